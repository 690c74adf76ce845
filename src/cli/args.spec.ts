import { parseArgs, stringFlag } from './args';
import { main } from './main';

describe('command-line words named like members of Object.prototype', () => {
  it('are flags like any other, and reading an absent one finds nothing', () => {
    const args = parseArgs(['--constructor=x', 'file.csv']);
    expect(stringFlag(args, 'constructor')).toBe('x');
    expect(stringFlag(parseArgs([]), 'constructor')).toBeUndefined();
    expect(stringFlag(parseArgs([]), 'toString')).toBeUndefined();
  });

  it('are unknown commands', async () => {
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await main(['constructor'])).toBe(1);
      expect(await main(['toString'])).toBe(1);
      expect(error.mock.calls[0][0]).toMatch(/^Unknown command "constructor"/);
    } finally {
      error.mockRestore();
    }
  });
});
