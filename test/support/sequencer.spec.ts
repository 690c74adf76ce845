const LongestFirstSequencer = require('./sequencer');

/** A test as jest hands it to a sequencer: its path, and a context with the project's name, root, cache settings and file sizes. */
function fakeTest(project: string, path: string, bytes: number, cacheDirectory: string) {
  return {
    path: `/repo/${path}`,
    context: {
      config: { displayName: { name: project, color: 'white' }, rootDir: '/repo', cache: false, cacheDirectory, id: project },
      hasteFS: { getSize: () => bytes },
    },
  };
}

describe('LongestFirstSequencer', () => {
  const order = (tests: ReturnType<typeof fakeTest>[]) => new LongestFirstSequencer().sort(tests).map((t: ReturnType<typeof fakeTest>) => `${t.context.config.displayName.name}:${t.path.slice('/repo/'.length)}`);

  it('starts the known long files first, longest first, on a clean clone with nothing cached', () => {
    const tests = [
      fakeTest('inprocess', 'test/big-but-quick.e2e.ts', 90_000, '/nonexistent'),
      fakeTest('inprocess', 'test/console.e2e.ts', 12_000, '/nonexistent'),
      fakeTest('inprocess', 'src/small.spec.ts', 1_000, '/nonexistent'),
      fakeTest('inprocess', 'test/reliability/fuzz.reliability.ts', 8_000, '/nonexistent'),
      fakeTest('clickhouse', 'test/pagination.e2e.ts', 20_000, '/nonexistent'),
      fakeTest('inprocess', 'test/pagination.e2e.ts', 20_000, '/nonexistent'),
      fakeTest('inprocess', 'test/clickhouse.e2e.ts', 17_000, '/nonexistent'),
    ];
    // By hand: fuzz 130 s, clickhouse.e2e 70 s, console 40 s and the ClickHouse pass of pagination 40 s
    // (equal: the larger file, pagination at 20,000 bytes, first); then the unknown files, largest first.
    expect(order(tests)).toEqual([
      'inprocess:test/reliability/fuzz.reliability.ts',
      'inprocess:test/clickhouse.e2e.ts',
      'clickhouse:test/pagination.e2e.ts',
      'inprocess:test/console.e2e.ts',
      'inprocess:test/big-but-quick.e2e.ts',
      'inprocess:test/pagination.e2e.ts',
      'inprocess:src/small.spec.ts',
    ]);
  });
});
