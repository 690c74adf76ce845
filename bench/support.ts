import { createScratchDatabase, ScratchDatabase } from '../src/db/scratch-database';

/** Benchmarks create throw-away databases on BENCH_DATABASE_URL's server (default: the local test server). */
export function benchDatabase(label: string): Promise<ScratchDatabase> {
  return createScratchDatabase(process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test', label);
}

export function rate(count: number, seconds: number): string {
  return `${Math.round(count / seconds).toLocaleString('en-US')}/s`;
}

export function elapsedSeconds(startedAt: bigint): number {
  return Number(process.hrtime.bigint() - startedAt) / 1e9;
}
