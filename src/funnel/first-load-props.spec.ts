/**
 * The first load's properties codes (FirstLoadProps in event-mirror.ts): rows carry a hash, the
 * distinct objects come once with theirs, and any doubt (two objects with one hash, a hash with no
 * object, more objects than the limit) gives the column up rather than guess.
 */
import type { CopyRow } from './copy-rows';
import { FirstLoadProps } from './event-mirror';

/** A COPY row of (props text, hash) as the dictionary COPY sends it. */
function row(text: string, hash: number): CopyRow {
  const fields = [text, String(hash)];
  return {
    isNull: () => false,
    number: (field) => Number(fields[field]),
    text: (field) => fields[field],
    microseconds: () => Number.NaN,
    eachInteger: () => undefined,
  };
}

function load(objects: [string, number][], rowHashes: number[], limit = 10) {
  const column = { values: [undefined] as unknown[], codeOfText: new Map<string, number>() };
  const first = new FirstLoadProps(column, limit);
  for (const hash of rowHashes) first.hashes.push(hash);
  const copy = first.dictionaryCopy();
  for (const [text, hash] of objects) copy.onRow(row(text, hash));
  const batch = { size: rowHashes.length, props: new Int32Array(rowHashes.length) };
  return { kept: first.codeRows(batch), codes: [...batch.props], values: column.values, sql: copy.sql };
}

it('codes each row by its hash, rows without properties (NaN) as 0', () => {
  const { kept, codes, values, sql } = load(
    [
      ['{"device": "mobile"}', 7],
      ['{"device": null}', 2 ** 53 - 1],
    ],
    [2 ** 53 - 1, 7, Number.NaN, 7],
  );
  expect(kept).toBe(true);
  expect(codes.map((code) => values[code])).toEqual(['{"device": null}', '{"device": "mobile"}', undefined, '{"device": "mobile"}']);
  // The dictionary COPY asks for one more object than the limit, to know when it is passed.
  expect(sql).toMatch(/GROUP BY props LIMIT 11$/);
});

it('gives the column up when two distinct objects share a hash', () => {
  expect(load([['{"v": null}', 5], ['{"v": false}', 5]], [5]).kept).toBe(false);
});

it('gives the column up when a row hash has no object', () => {
  expect(load([['{"v": 1}', 5]], [5, 6]).kept).toBe(false);
});

it('keeps exactly `limit` objects and gives up past them', () => {
  const objects: [string, number][] = [['{"a": 1}', 1], ['{"a": 2}', 2], ['{"a": 3}', 3]];
  expect(load(objects, [1, 2, 3], 3).kept).toBe(true);
  expect(load(objects, [1, 2, 3], 2).kept).toBe(false);
});
