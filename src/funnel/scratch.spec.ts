import { scratchFloat64, scratchUint32 } from './scratch';

it('hands out the same memory per slot, sized to the request, and grows it when asked for more', () => {
  const first = scratchUint32('spec', 10);
  first.fill(7);
  const again = scratchUint32('spec', 4);
  expect(again.length).toBe(4);
  expect(again.buffer).toBe(first.buffer);
  expect([...again]).toEqual([7, 7, 7, 7]); // contents are left as they were: callers write what they read
  const bigger = scratchUint32('spec', 20);
  expect(bigger.length).toBe(20);
  expect(bigger.buffer).not.toBe(first.buffer);
  expect(scratchUint32('spec', 10).buffer).toBe(bigger.buffer);
  // Slots and types do not share.
  expect(scratchUint32('other', 10).buffer).not.toBe(bigger.buffer);
  expect(scratchFloat64('spec', 10).buffer).not.toBe(bigger.buffer);
});
