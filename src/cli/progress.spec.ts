import { Writable } from 'node:stream';
import { createDemoShop } from '../sim/generator';
import { importProgressBar, loadProgressBar, showsProgress, withProgress } from './progress';

/** A stream that says whether it is a terminal, and keeps what is written to it. */
function stream(isTTY: boolean): NodeJS.WriteStream & { text: () => string } {
  const chunks: string[] = [];
  const out = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as unknown as NodeJS.WriteStream & { text: () => string };
  Object.assign(out, { isTTY, columns: 200, cursorTo: () => true, clearLine: () => true, moveCursor: () => true, text: () => chunks.join('') });
  return out;
}

describe('progress bars', () => {
  const ci = process.env.CI;
  beforeEach(() => delete process.env.CI);
  afterAll(() => {
    if (ci === undefined) delete process.env.CI;
    else process.env.CI = ci;
  });

  it('are drawn on a terminal and end at the final state', async () => {
    const terminal = stream(true);
    const result = await withProgress(importProgressBar(2 * 1048576, terminal), async (onProgress) => {
      onProgress!({ rowsRead: 10, imported: 8, duplicates: 1, rejected: 1, bytesRead: 1048576, totalBytes: 2 * 1048576 });
      onProgress!({ rowsRead: 20, imported: 17, duplicates: 2, rejected: 1, bytesRead: 2 * 1048576, totalBytes: 2 * 1048576 });
      return 'done';
    });
    expect(result).toBe('done');
    expect(terminal.text()).toMatch(/100% \| 2\.0 of 2\.0 MB \| 20 rows .* imported 17 duplicates 2 rejected 1/);
  });

  it('write nothing when stderr is not a terminal, or under CI', async () => {
    const shop = createDemoShop({ users: 10, days: 1, seed: 1 });
    const pipe = stream(false);
    expect(showsProgress(pipe)).toBe(false);
    expect(loadProgressBar(shop, pipe)).toBeNull();
    await withProgress(null, async (onProgress) => expect(onProgress).toBeUndefined());
    expect(pipe.text()).toBe('');
    process.env.CI = 'true';
    const terminal = stream(true);
    expect(importProgressBar(100, terminal)).toBeNull();
    expect(terminal.text()).toBe('');
  });

  it('stop however the work ends', async () => {
    const terminal = stream(true);
    const bar = loadProgressBar(createDemoShop({ users: 10, days: 1, seed: 1 }), terminal)!;
    const stop = jest.spyOn(bar, 'stop');
    await expect(withProgress(bar, async () => Promise.reject(new Error('database gone')))).rejects.toThrow('database gone');
    expect(stop).toHaveBeenCalled();
  });
});
