import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DataSource } from 'typeorm';
import { loadProgressBar, withProgress } from '../src/cli/progress';
import { createScratchDatabase, ScratchDatabase } from '../src/db/scratch-database';
import { importFile, type ImportSummary } from '../src/events/import/import.service';
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

/** The real samples under ../shared/data (see its README) and the importer format of each. */
export const REAL_SAMPLES = [
  { format: 'rees46', file: 'rees46_2019oct_head.csv' },
  { format: 'taobao', file: 'taobao_userbehavior_timeslice.csv' },
] as const;
export type RealSample = (typeof REAL_SAMPLES)[number];

/**
 * Imports each real sample found in `dataDir` into a scratch database of its own and hands it to
 * `run` with the import summary and the instant just after its newest event (a training range's
 * `to`); a sample that is not there is skipped with a line saying so. `keep` filters the samples.
 */
export async function forEachRealSample(
  dataDir: string,
  label: string,
  run: (sample: RealSample, dataSource: DataSource, summary: ImportSummary, end: Date) => Promise<void>,
  keep: (sample: RealSample) => boolean = () => true,
): Promise<void> {
  for (const sample of REAL_SAMPLES) {
    if (!keep(sample)) continue;
    const path = resolve(dataDir, sample.file);
    if (!existsSync(path)) {
      console.log(`\n${sample.file}: not found under ${dataDir} (--data names the folder where the benchmark takes one); skipped.`);
      continue;
    }
    const db = await benchDatabase(`${label}_${sample.format}`);
    try {
      const summary = await importFile(db.dataSource, sample.format, path);
      const [{ last }] = await db.dataSource.query(`SELECT max(ts) AS last FROM events`);
      await run(sample, db.dataSource, summary, new Date(last.getTime() + 1));
    } finally {
      await db.drop();
    }
  }
}

/** Prints rows as a Markdown table (columns in the first row's key order), for pasting into docs; nothing for no rows. */
export function printMarkdown(rows: Record<string, string>[]): void {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]);
  console.log(`| ${columns.join(' | ')} |`);
  console.log(`|${columns.map(() => '---').join('|')}|`);
  for (const row of rows) console.log(`| ${columns.map((column) => row[column]).join(' | ')} |`);
}
