import type { DataSource } from 'typeorm';
import { loadProgressBar, withProgress } from '../src/cli/progress';
import { createScratchDatabase, ScratchDatabase } from '../src/db/scratch-database';
import type { ImportSummary } from '../src/events/import/import.service';
import type { DemoShop } from '../src/sim/generator';
import { loadDemoShop } from '../src/sim/load';

/** Benchmarks create throw-away databases on BENCH_DATABASE_URL's server (default: the local test server). */
export function benchDatabase(label: string): Promise<ScratchDatabase> {
  return createScratchDatabase(process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test', label);
}

/** Loads a bench's demo shop, with a progress bar when stderr is a terminal. */
export function loadBenchShop(dataSource: DataSource, shop: DemoShop): Promise<ImportSummary> {
  return withProgress(loadProgressBar(shop), (onProgress) => loadDemoShop(dataSource, shop, onProgress));
}

export function rate(count: number, seconds: number): string {
  return `${Math.round(count / seconds).toLocaleString('en-US')}/s`;
}

export function elapsedSeconds(startedAt: bigint): number {
  return Number(process.hrtime.bigint() - startedAt) / 1e9;
}
