import { Presets, SingleBar } from 'cli-progress';
import type { ImportProgress } from '../events/import/import.types';
import type { DemoShop } from '../sim/generator';
import type { DemoLoadProgress } from '../sim/load';

/**
 * Progress bars for long command-line work, drawn by cli-progress on stderr. Only for a person at
 * a terminal: when stderr is a pipe or a file, or under CI, there is no bar and nothing is written,
 * so logs and redirected output stay clean.
 */
export interface TerminalProgress<P> {
  update(progress: P): void;
  /** Draws the final state and gives the terminal back; call it on success and on failure. */
  stop(): void;
}

/** Runs `work` with the bar's update as its progress callback (none without a bar), and stops the bar however it ends. */
export async function withProgress<P, T>(bar: TerminalProgress<P> | null, work: (onProgress?: (progress: P) => void) => Promise<T>): Promise<T> {
  try {
    return await work(bar ? (progress) => bar.update(progress) : undefined);
  } finally {
    bar?.stop();
  }
}

export function showsProgress(stream: NodeJS.WriteStream = process.stderr): boolean {
  return stream.isTTY === true && !process.env.CI;
}

const count = (n: number): string => Math.round(n).toLocaleString('en-US');
const megabytes = (bytes: number): string => (bytes / 1048576).toFixed(1);

function terminalBar<P>(
  format: string,
  total: number,
  toBar: (progress: P, seconds: number) => { value: number; payload: Record<string, string> },
  stream: NodeJS.WriteStream,
): TerminalProgress<P> | null {
  if (!showsProgress(stream)) return null;
  const started = performance.now();
  const bar = new SingleBar({ format, stream, fps: 10, hideCursor: true, etaBuffer: 50 }, Presets.shades_classic);
  // Started by the first update, so every token of the format has a value from the start.
  let state: 'waiting' | 'drawing' | 'stopped' = 'waiting';
  return {
    update(progress) {
      if (state === 'stopped') return;
      const { value, payload } = toBar(progress, Math.max((performance.now() - started) / 1000, 0.001));
      if (state === 'waiting') bar.start(total, value, payload);
      else bar.update(value, payload);
      state = 'drawing';
    },
    stop() {
      if (state === 'drawing') bar.stop();
      state = 'stopped';
    },
  };
}

/** `funnelcast import`: bytes of the file read, and rows with their fate. */
export function importProgressBar(totalBytes: number, stream: NodeJS.WriteStream = process.stderr): TerminalProgress<ImportProgress> | null {
  return terminalBar<ImportProgress>(
    '{bar} {percentage}% | {read} of {size} MB | {rows} rows ({rate} rows/s) imported {imported} duplicates {duplicates} rejected {rejected} | ETA {eta_formatted}',
    totalBytes,
    (p, seconds) => ({
      value: p.bytesRead ?? 0,
      payload: {
        read: megabytes(p.bytesRead ?? 0),
        size: megabytes(totalBytes),
        rows: count(p.rowsRead),
        rate: count(p.rowsRead / seconds),
        imported: count(p.imported),
        duplicates: count(p.duplicates),
        rejected: count(p.rejected),
      },
    }),
    stream,
  );
}

/** Generating a shop (`generate`): shoppers written of all, and their events. */
export function generateProgressBar(shop: DemoShop, stream: NodeJS.WriteStream = process.stderr): TerminalProgress<{ users: number; events: number }> | null {
  return terminalBar<{ users: number; events: number }>(
    '{bar} {percentage}% | {users} of {all} users | {events} events ({rate} events/s) | ETA {eta_formatted}',
    shop.options.users,
    (p, seconds) => ({
      value: p.users,
      payload: { users: count(p.users), all: count(shop.options.users), events: count(p.events), rate: count(p.events / seconds) },
    }),
    stream,
  );
}

/** Loading a generated shop through the importer (`generate --load`, `demo`, the benches' shops): shoppers loaded of all. */
export function loadProgressBar(shop: DemoShop, stream: NodeJS.WriteStream = process.stderr): TerminalProgress<DemoLoadProgress> | null {
  return terminalBar<DemoLoadProgress>(
    '{bar} {percentage}% | {users} of {all} users | {rows} events read ({rate}/s), stored {imported} | ETA {eta_formatted}',
    shop.options.users,
    (p, seconds) => ({
      value: p.users,
      payload: { users: count(p.users), all: count(shop.options.users), rows: count(p.rowsRead), rate: count(p.rowsRead / seconds), imported: count(p.imported) },
    }),
    stream,
  );
}

/** What `funnelcast train --wait` shows: jobs finished, and the share of the running ones done. */
export interface TrainingProgress {
  finished: number;
  /** The running jobs' progress (0–1 each) and message. */
  running: { kind: string; progress: number; message: string | null }[];
}

/** `funnelcast train --wait`: jobs as the unit (a running job counts by its progress), the running kinds and what they do. */
export function trainingProgressBar(jobs: number, stream: NodeJS.WriteStream = process.stderr): TerminalProgress<TrainingProgress> | null {
  return terminalBar<TrainingProgress>(
    'training |{bar}| {done}/{total} jobs | {running}',
    jobs,
    (progress) => ({
      value: progress.finished + progress.running.reduce((sum, job) => sum + job.progress, 0),
      payload: {
        done: String(progress.finished),
        running: progress.running.map((job) => `${job.kind}${job.message ? `: ${job.message}` : ''}`).join('; ').slice(0, 80),
      },
    }),
    stream,
  );
}
