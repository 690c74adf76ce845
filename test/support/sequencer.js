const { relative } = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

/**
 * Test files that take long, with their seconds in a full `npm test` on the 2-core CI machine
 * (both projects sharing two workers), keyed `<project>:<path from the repository root>`.
 *
 * Why: on two workers the run ends when the last file ends, so the long files must start first.
 * Jest orders by the durations it cached from the previous run, but a clean clone has no cache and
 * then jest runs the files it knows nothing about first, largest file first; the 130 s fuzzer (a
 * 200-line file) could start last and run alone for two minutes with the other worker idle.
 * Only the order comes from these numbers; no test reads them. A file missing here is
 * only ordered by size among the short ones, so the list needs the long files, not every file.
 */
const KNOWN_SECONDS = {
  'inprocess:test/reliability/fuzz.reliability.ts': 130,
  'inprocess:test/reliability/redis-faults.reliability.ts': 80,
  'inprocess:test/clickhouse.e2e.ts': 70,
  // 37 s alone (`npx jest test/clickhouse-slices.e2e.ts --selectProjects=inprocess`).
  'inprocess:test/clickhouse-slices.e2e.ts': 40,
  'inprocess:test/console.e2e.ts': 40,
  // 20 s alone (`npx jest test/pagination.e2e.ts --selectProjects clickhouse`), about twice that beside others.
  'clickhouse:test/pagination.e2e.ts': 40,
};

function projectName(test) {
  const { displayName } = test.context.config;
  return typeof displayName === 'string' ? displayName : displayName?.name ?? '';
}

/**
 * Jest's own order (failed last time first, then longest first) with one change: a file without a
 * duration in jest's cache takes its duration from KNOWN_SECONDS, or else counts as shorter than
 * every known one (ordered by size among themselves), instead of running before them all.
 */
class LongestFirstSequencer extends Sequencer {
  sort(tests) {
    const key = (test) => `${projectName(test)}:${relative(test.context.config.rootDir, test.path).split('\\').join('/')}`;
    const durationMs = (test) => this.time(test) ?? (KNOWN_SECONDS[key(test)] ?? 0) * 1000;
    const size = (test) => test.context.hasteFS.getSize(test.path) ?? 0;
    for (const test of tests) test.duration = durationMs(test);
    return [...tests].sort((a, b) => {
      const failedA = this.hasFailed(a);
      if (failedA !== this.hasFailed(b)) return failedA ? -1 : 1;
      if (a.duration !== b.duration) return b.duration - a.duration;
      return size(b) - size(a);
    });
  }
}

module.exports = LongestFirstSequencer;
module.exports.KNOWN_SECONDS = KNOWN_SECONDS;
