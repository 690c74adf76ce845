import { intFlag, parseArgs, stringFlag, UsageError } from './args';
import { main } from './main';

const spec = { flags: { format: 'string', 'batch-size': 'string', load: 'boolean' }, positionals: true } as const;

function usageMessage(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('no UsageError');
}

describe('parseArgs', () => {
  it('reads --name value, --name=value, boolean flags and bare words', () => {
    const args = parseArgs(['--format', 'taobao', 'a.csv', '--batch-size=5', '--load'], spec);
    expect(stringFlag(args, 'format')).toBe('taobao');
    expect(intFlag(args, 'batch-size', 100, 1)).toBe(5);
    expect(args.flags.load).toBe(true);
    expect(args.positional).toEqual(['a.csv']);
    expect(intFlag(parseArgs([], spec), 'batch-size', 100, 1)).toBe(100);
  });

  it('always knows --help and -h', () => {
    expect(parseArgs(['--help']).flags.help).toBe(true);
    expect(parseArgs(['-h'], spec).flags.help).toBe(true);
  });

  it('names the flag or word it cannot take', () => {
    expect(usageMessage(() => parseArgs(['--fromat', 'x'], spec))).toMatch(/--fromat/);
    expect(usageMessage(() => parseArgs(['--format'], spec))).toMatch(/--format.*missing/);
    // A forgotten value does not swallow the next flag.
    expect(usageMessage(() => parseArgs(['--format', '--load'], spec))).toMatch(/--format.*ambiguous/);
    expect(usageMessage(() => parseArgs(['--load=yes'], spec))).toMatch(/--load.*does not take an argument/);
    expect(usageMessage(() => parseArgs(['stray'], { flags: { load: 'boolean' } }))).toMatch(/'stray'/);
    expect(usageMessage(() => intFlag(parseArgs(['--batch-size', '0'], spec), 'batch-size', 100, 1))).toBe('--batch-size must be a whole number ≥ 1 (got "0")');
    expect(usageMessage(() => intFlag(parseArgs(['--batch-size=2.5'], spec), 'batch-size', 100, 1))).toMatch(/--batch-size .*"2\.5"/);
  });
});

describe('command-line words named like members of Object.prototype', () => {
  it('are unknown flags unless declared, and reading an absent one finds nothing', () => {
    expect(usageMessage(() => parseArgs(['--constructor=x'], spec))).toMatch(/--constructor/);
    expect(stringFlag(parseArgs(['--constructor=x'], { flags: { constructor: 'string' } } as const), 'constructor')).toBe('x');
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

describe('funnelcast <command> --help', () => {
  it.each([
    ['import', /--format F/],
    ['generate', /--users N/],
    ['keys', /keys create --role/],
    ['demo', /--check/],
    ['migrate', /Applies pending migrations/],
    ['serve', /Usage: funnelcast serve/],
    ['schema', /Usage: funnelcast schema \[FILE\]/],
  ])('%s prints its usage and exits 0', async (command, text) => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      expect(await main([command, '--help'])).toBe(0);
      expect(log.mock.calls[0][0]).toMatch(text);
    } finally {
      log.mockRestore();
    }
  });

  it('a misspelt flag is a usage error naming it, with the usage', async () => {
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await main(['generate', '--user', '5'])).toBe(2);
      expect(error.mock.calls[0][0]).toMatch(/Unknown option '--user'[^]*Usage: funnelcast generate/);
      await expect(main(['demo', '--chekc'])).rejects.toThrow(/Unknown option '--chekc'[^]*Usage: funnelcast demo/);
      await expect(main(['keys', 'list', '--al'])).rejects.toThrow(/Unknown option '--al'[^]*funnelcast keys list/);
      await expect(main(['serve', '--port', '1'])).rejects.toThrow(/Unknown option '--port'/);
    } finally {
      error.mockRestore();
    }
  });
});
