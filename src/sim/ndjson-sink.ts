import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { CatalogItem, ShopEvent } from '../events/event.types';
import type { ShopSink } from './sink';

/** `{"item":{…}}`: the catalog lines that open a funnelcast NDJSON file. */
export function catalogLine(item: CatalogItem): string {
  return JSON.stringify({ item });
}

/** One event as the importer reads it: ISO-8601 timestamp, null fields left out. */
export function eventLine(event: ShopEvent): string {
  const line: Record<string, unknown> = { eventId: event.eventId, type: event.type, userId: event.userId };
  if (event.sessionId !== null) line.sessionId = event.sessionId;
  if (event.itemId !== null) line.itemId = event.itemId;
  line.timestamp = new Date(event.timestamp).toISOString();
  if (event.properties !== null) line.properties = event.properties;
  return JSON.stringify(line);
}

/** Lines are gathered into chunks of about this many characters: one write per line is far slower. */
const CHUNK_CHARS = 1 << 18;

/** Writes, then waits for 'drain' when the stream's buffer is full, so memory stays flat. */
export async function writeRespectingBackpressure(stream: Writable, chunk: string): Promise<void> {
  if (!stream.write(chunk)) await once(stream, 'drain');
}

/**
 * Writes a shop as NDJSON to a stream. `endStream` is false for stdout, which must stay open; the
 * sink then only waits until what it wrote has been flushed.
 */
export class NdjsonSink implements ShopSink {
  private pending = '';

  constructor(
    private readonly stream: Writable,
    private readonly endStream = true,
  ) {}

  async writeCatalog(items: readonly CatalogItem[]): Promise<void> {
    for (const item of items) {
      this.pending += catalogLine(item) + '\n';
      if (this.pending.length >= CHUNK_CHARS) await this.flush();
    }
  }

  async writeEvents(events: readonly ShopEvent[]): Promise<void> {
    for (const event of events) {
      this.pending += eventLine(event) + '\n';
      if (this.pending.length >= CHUNK_CHARS) await this.flush();
    }
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.endStream) {
      this.stream.end();
      await once(this.stream, 'finish');
    } else {
      await new Promise<void>((resolve, reject) => this.stream.write('', (error) => (error ? reject(error) : resolve())));
    }
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const chunk = this.pending;
    this.pending = '';
    await writeRespectingBackpressure(this.stream, chunk);
  }
}
