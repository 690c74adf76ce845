import { SessionDictionary, sessionName } from './session-dictionary';

it('gives each distinct id one code from 1, the same one however it is handed in, and its name back', () => {
  const dictionary = new SessionDictionary();
  const ids = ['s-1', 's-2', '会话-1', '', 's-1\tx', 's-2'];
  const codes = ids.map((id) => dictionary.internText(id));
  expect(codes).toEqual([1, 2, 3, 4, 5, 2]);
  const bytes = Buffer.from('xx会话-1yy', 'utf8');
  expect(dictionary.intern(bytes, 2, bytes.length - 2)).toBe(3); // raw bytes inside a larger buffer
  const names = dictionary.names();
  expect(names.count).toBe(6);
  expect([1, 2, 3, 4, 5].map((code) => sessionName(names, code))).toEqual(['s-1', 's-2', '会话-1', '', 's-1\tx']);
  expect(() => sessionName(names, 0)).toThrow(RangeError);
  expect(() => sessionName(names, 6)).toThrow(RangeError);
});

it('stays exact past many rehashes, arena growths and hash collisions, and old views keep their names', () => {
  const dictionary = new SessionDictionary();
  // 300,000 ids: about ten pairs of them share a 32-bit hash, so byte comparison decides.
  const idOf = (n: number) => `session-${(n * 2654435761) % 4294967296}-${n}`;
  dictionary.internText(idOf(0));
  const early = dictionary.names();
  let wrong = 0;
  for (let n = 1; n < 300_000; n++) if (dictionary.internText(idOf(n)) !== n + 1) wrong++;
  for (let n = 0; n < 300_000; n += 7) if (dictionary.internText(idOf(n)) !== n + 1) wrong++;
  expect(wrong).toBe(0);
  const names = dictionary.names();
  expect(names.count).toBe(300_001);
  for (let n = 0; n < 300_000; n += 1013) expect(sessionName(names, n + 1)).toBe(idOf(n));
  // A view taken before the buffers were replaced still reads what it counted.
  expect(early.count).toBe(2);
  expect(sessionName(early, 1)).toBe(idOf(0));
});
