import type { ImportProgress } from './import.types';

/** At most this often, so a fast import spends its time importing, not repainting a terminal. */
const REDRAW_MS = 100;
const BAR_WIDTH = 30;

const count = (n: number): string => Math.round(n).toLocaleString('en-US');

function megabytes(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

/** A two-line progress display for a terminal: bytes read, and rows with their fate. */
export class ProgressBar {
  private readonly started = Date.now();
  private lastDraw = 0;
  private linesDrawn = 0;
  private latest: ImportProgress | null = null;

  constructor(private readonly out: NodeJS.WriteStream) {}

  update(progress: ImportProgress): void {
    this.latest = progress;
    const now = Date.now();
    if (now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    this.draw();
  }

  /** Paints the final state, so the bar ends at what the summary reports. */
  finish(): void {
    if (this.latest !== null) this.draw();
  }

  private draw(): void {
    const p = this.latest!;
    const elapsed = Math.max((Date.now() - this.started) / 1000, 0.001);
    const total = p.totalBytes ?? 0;
    const fraction = total > 0 ? Math.min((p.bytesRead ?? 0) / total, 1) : 0;
    const filled = Math.round(fraction * BAR_WIDTH);
    const lines = [
      `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${(fraction * 100).toFixed(1).padStart(5)}%  ` +
        `${megabytes(p.bytesRead ?? 0)} of ${megabytes(total)}`,
      `${count(p.rowsRead)} rows (${count(p.rowsRead / elapsed)} rows/s)  imported ${count(p.imported)}  ` +
        `duplicates ${count(p.duplicates)}  rejected ${count(p.rejected)}`,
    ];
    const up = this.linesDrawn > 0 ? `\x1b[${this.linesDrawn}A` : '';
    this.out.write(`${up}${lines.map((line) => `\x1b[2K${line}`).join('\n')}\n`);
    this.linesDrawn = lines.length;
  }
}
