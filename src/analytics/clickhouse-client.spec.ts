import { parseJsonLines } from './clickhouse-client';

describe('parseJsonLines', () => {
  const rows = [{ a: 1, s: 'é ✓ x' }, { a: 2, s: '' }, { a: 3, s: 'a much longer line than the chunk' }];
  const bytes = new TextEncoder().encode(rows.map((row) => JSON.stringify(row)).join('\n') + '\n');

  it('reads JSONEachRow bytes in chunks cut at line breaks, multi-byte characters and over-long lines included', () => {
    for (const chunk of [1, 3, 7, 16, 1 << 20]) expect(parseJsonLines(bytes, chunk)).toEqual(rows);
    expect(parseJsonLines(bytes.subarray(0, bytes.length - 1), 5)).toEqual(rows);
    expect(parseJsonLines(new Uint8Array(0))).toEqual([]);
  });
});
