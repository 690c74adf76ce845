import { groupKeyOf, groupValueOf, MISSING_GROUP_KEY, OTHER_GROUP_KEY } from './breakdown-key';

describe('breakdown group keys', () => {
  it('keep JSON types apart and never collide with the missing and other groups', () => {
    const values: unknown[] = [10, '10', true, 'true', null, '(none)', '(missing)', '(other)', ['a'], { x: 1 }, ''];
    const keys = values.map(groupKeyOf);
    expect(new Set([...keys, MISSING_GROUP_KEY, OTHER_GROUP_KEY]).size).toBe(values.length + 2);
    expect(groupKeyOf(undefined)).toBe(MISSING_GROUP_KEY);
  });

  it('give back the typed value, its kind and a display label', () => {
    expect(groupValueOf(groupKeyOf(10))).toEqual({ value: 10, valueKind: 'number', label: '10' });
    expect(groupValueOf(groupKeyOf('10'))).toEqual({ value: '10', valueKind: 'string', label: '10' });
    expect(groupValueOf(groupKeyOf(true))).toEqual({ value: true, valueKind: 'boolean', label: 'true' });
    expect(groupValueOf(groupKeyOf(null))).toEqual({ value: null, valueKind: 'null', label: 'null' });
    expect(groupValueOf(groupKeyOf(['a']))).toEqual({ value: ['a'], valueKind: 'array', label: '["a"]' });
    expect(groupValueOf(groupKeyOf({ x: 1 }))).toEqual({ value: { x: 1 }, valueKind: 'object', label: '{"x":1}' });
    expect(groupValueOf(groupKeyOf('(none)'))).toEqual({ value: '(none)', valueKind: 'string', label: '(none)' });
    expect(groupValueOf(MISSING_GROUP_KEY)).toEqual({ value: null, valueKind: 'missing', label: '(none)' });
    expect(groupValueOf(OTHER_GROUP_KEY)).toEqual({ value: null, valueKind: 'other', label: 'other' });
  });
});
