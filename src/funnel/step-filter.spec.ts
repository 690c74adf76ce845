import { compileFilter, compileStep, compileStepMask, FunnelEventRow, PropertyFilter, StepFilterError } from './step-filter';

const row = (overrides: Partial<FunnelEventRow> = {}): FunnelEventRow => ({
  type: 'view',
  props: { device: 'mobile', price: 19.9, priceText: '25', tags: ['sale', 'new'], day: '2024-05-02', vip: true, gone: null },
  itemId: 'sku-1',
  category: 'shoes',
  ...overrides,
});

const prop = (key: string, operator: PropertyFilter['operator'], value?: PropertyFilter['value']): PropertyFilter => ({
  on: 'property',
  key,
  operator,
  value,
});

describe('compileFilter', () => {
  it('eq and neq compare type and value; neq also matches a missing property', () => {
    expect(compileFilter(prop('device', 'eq', 'mobile'))(row())).toBe(true);
    expect(compileFilter(prop('priceText', 'eq', 25))(row())).toBe(false);
    expect(compileFilter(prop('vip', 'eq', true))(row())).toBe(true);
    expect(compileFilter(prop('device', 'neq', 'mobile'))(row())).toBe(false);
    expect(compileFilter(prop('channel', 'neq', 'ads'))(row())).toBe(true);
    expect(compileFilter(prop('device', 'eq', 'mobile'))(row({ props: null }))).toBe(false);
  });

  it('compares numbers numerically, accepting numeric strings, and never matches non-numbers', () => {
    expect(compileFilter(prop('price', 'gt', 19))(row())).toBe(true);
    expect(compileFilter(prop('price', 'gte', 19.9))(row())).toBe(true);
    expect(compileFilter(prop('price', 'lt', 19.9))(row())).toBe(false);
    expect(compileFilter(prop('price', 'lte', 19.9))(row())).toBe(true);
    expect(compileFilter(prop('priceText', 'gt', 24))(row())).toBe(true);
    expect(compileFilter(prop('device', 'gt', 0))(row())).toBe(false);
    expect(compileFilter(prop('device', 'lte', 0))(row())).toBe(false);
    expect(compileFilter(prop('missing', 'lt', 100))(row())).toBe(false);
  });

  it('compares strings by code unit when the bound is a string (ISO dates)', () => {
    expect(compileFilter(prop('day', 'gte', '2024-05-01'))(row())).toBe(true);
    expect(compileFilter(prop('day', 'lt', '2024-05-02'))(row())).toBe(false);
    expect(compileFilter(prop('day', 'lte', '2024-05-02'))(row())).toBe(true);
    expect(compileFilter(prop('price', 'gt', 'a'))(row())).toBe(false);
  });

  it('in matches any listed value of the same type', () => {
    expect(compileFilter(prop('device', 'in', ['tablet', 'mobile']))(row())).toBe(true);
    expect(compileFilter(prop('priceText', 'in', [25]))(row())).toBe(false);
  });

  it('contains looks for a substring in strings and a member in arrays', () => {
    expect(compileFilter(prop('device', 'contains', 'obi'))(row())).toBe(true);
    expect(compileFilter(prop('device', 'contains', 'Mobi'))(row())).toBe(false);
    expect(compileFilter(prop('tags', 'contains', 'sale'))(row())).toBe(true);
    expect(compileFilter(prop('tags', 'contains', 'sal'))(row())).toBe(false);
    expect(compileFilter(prop('price', 'contains', '19'))(row())).toBe(false);
  });

  it('keeps JSON types apart: 10 is not "10", true is not "true", in any operator but the numeric comparisons', () => {
    const typed = row({ props: { n: 10, s: '10', b: true, t: 'true', code: 'x10', flags: [10, 'true'] } });
    expect(compileFilter(prop('n', 'eq', 10))(typed)).toBe(true);
    expect(compileFilter(prop('n', 'eq', '10'))(typed)).toBe(false);
    expect(compileFilter(prop('s', 'eq', 10))(typed)).toBe(false);
    expect(compileFilter(prop('b', 'eq', 'true'))(typed)).toBe(false);
    expect(compileFilter(prop('t', 'eq', true))(typed)).toBe(false);
    expect(compileFilter(prop('s', 'neq', 10))(typed)).toBe(true);
    expect(compileFilter(prop('s', 'in', [10, true]))(typed)).toBe(false);
    expect(compileFilter(prop('t', 'in', [10, true]))(typed)).toBe(false);
    expect(compileFilter(prop('code', 'contains', 10))(typed)).toBe(false);
    expect(compileFilter(prop('code', 'contains', '10'))(typed)).toBe(true);
    expect(compileFilter(prop('flags', 'contains', 10))(typed)).toBe(true);
    expect(compileFilter(prop('flags', 'contains', '10'))(typed)).toBe(false);
    expect(compileFilter(prop('flags', 'contains', true))(typed)).toBe(false);
    // The documented exception: a numeric bound reads numeric strings (prices arrive as "19.90").
    expect(compileFilter(prop('s', 'gte', 10))(typed)).toBe(true);
  });

  it('never reads a member of Object.prototype, whatever the key', () => {
    const plain = row({ props: { device: 'mobile' } });
    for (const key of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__']) {
      expect(compileFilter(prop(key, 'isSet'))(plain)).toBe(false);
      expect(compileFilter(prop(key, 'isNotSet'))(plain)).toBe(true);
      expect(compileFilter(prop(key, 'neq', 'x'))(plain)).toBe(true);
      // The key present as an own property (as JSON.parse and computed keys make it) is read as such.
      const own = row({ props: JSON.parse(`{${JSON.stringify(key)}: "x"}`) });
      expect(compileFilter(prop(key, 'eq', 'x'))(own)).toBe(true);
      expect(compileFilter(prop(key, 'eq', 'x'))(row({ props: { [key]: 'x' } }))).toBe(true);
    }
  });

  it('isSet means present and not null', () => {
    expect(compileFilter(prop('device', 'isSet'))(row())).toBe(true);
    expect(compileFilter(prop('gone', 'isSet'))(row())).toBe(false);
    expect(compileFilter(prop('gone', 'isNotSet'))(row())).toBe(true);
    expect(compileFilter(prop('missing', 'isNotSet'))(row())).toBe(true);
    expect(compileFilter(prop('constructor', 'isSet'))(row())).toBe(false);
  });

  it('filters on the item id and the item category', () => {
    expect(compileFilter({ on: 'itemId', operator: 'eq', value: 'sku-1' })(row())).toBe(true);
    expect(compileFilter({ on: 'category', operator: 'in', value: ['bags', 'shoes'] })(row())).toBe(true);
    expect(compileFilter({ on: 'category', operator: 'isSet' })(row({ category: null }))).toBe(false);
    expect(compileFilter({ on: 'itemId', operator: 'isNotSet' })(row({ itemId: null }))).toBe(true);
  });

  it('rejects malformed filters when compiling', () => {
    expect(() => compileFilter(prop('price', 'gt'))).toThrow(StepFilterError);
    expect(() => compileFilter(prop('price', 'gt', true))).toThrow(StepFilterError);
    expect(() => compileFilter(prop('device', 'in', []))).toThrow(StepFilterError);
    expect(() => compileFilter(prop('device', 'in', 'mobile'))).toThrow(StepFilterError);
    expect(() => compileFilter(prop('', 'isSet'))).toThrow(StepFilterError);
    expect(() => compileFilter(prop('device', 'like' as PropertyFilter['operator'], 'x'))).toThrow(StepFilterError);
  });
});

describe('compileStep', () => {
  it('needs the event type and every filter', () => {
    const mobileShoeViews = compileStep({
      eventType: 'view',
      filters: [prop('device', 'eq', 'mobile'), { on: 'category', operator: 'eq', value: 'shoes' }],
    });
    expect(mobileShoeViews(row())).toBe(true);
    expect(mobileShoeViews(row({ type: 'cart' }))).toBe(false);
    expect(mobileShoeViews(row({ category: 'bags' }))).toBe(false);
    expect(compileStep({ eventType: 'cart' })(row({ type: 'cart', props: null }))).toBe(true);
  });
});

describe('compileStepMask', () => {
  it('sets one bit per matching step, including a type used by several steps', () => {
    const mask = compileStepMask([
      { eventType: 'checkout' },
      { eventType: 'view', filters: [prop('price', 'gte', 10)] },
      { eventType: 'checkout', filters: [prop('device', 'eq', 'mobile')] },
      { eventType: 'purchase' },
    ]);
    expect(mask(row({ type: 'checkout' }))).toBe(0b0101);
    expect(mask(row({ type: 'checkout', props: { device: 'desktop' } }))).toBe(0b0001);
    expect(mask(row())).toBe(0b0010);
    expect(mask(row({ type: 'search' }))).toBe(0);
  });

  it('uses the top bit for step 32 without going negative', () => {
    const steps = Array.from({ length: 32 }, (_, k) => ({ eventType: k === 31 ? 'purchase' : `custom_${k}` }));
    expect(compileStepMask(steps)(row({ type: 'purchase' }))).toBe(0x80000000);
    expect(() => compileStepMask([...steps, { eventType: 'extra' }])).toThrow(StepFilterError);
  });
});
