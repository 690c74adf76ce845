import { hasOwnKey, ownValue } from './own-property';

const PROTOTYPE_NAMES = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__'];

describe('own-property reads', () => {
  it('never find a member of Object.prototype', () => {
    for (const key of PROTOTYPE_NAMES) {
      expect(hasOwnKey({ device: 'mobile' }, key)).toBe(false);
      expect(ownValue({ device: 'mobile' }, key)).toBeUndefined();
      expect(ownValue(JSON.parse('{}'), key)).toBeUndefined();
    }
  });

  it('read the key when the object itself holds it, "__proto__" included', () => {
    for (const key of PROTOTYPE_NAMES) {
      const parsed = JSON.parse(`{${JSON.stringify(key)}: 10}`);
      expect(hasOwnKey(parsed, key)).toBe(true);
      expect(ownValue(parsed, key)).toBe(10);
    }
    expect(ownValue({ gone: null }, 'gone')).toBeNull();
  });

  it('give undefined for anything that is not an object', () => {
    expect(ownValue(null, 'a')).toBeUndefined();
    expect(ownValue(undefined, 'a')).toBeUndefined();
    expect(ownValue('text', 'length')).toBeUndefined();
    expect(ownValue(10, 'toFixed')).toBeUndefined();
  });
});
