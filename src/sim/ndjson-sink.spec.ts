import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { CatalogItem, ShopEvent } from '../events/event.types';
import { run } from './generate.command';
import { createDemoShop } from './generator';
import { writeLabelsCsv } from './labels-csv';
import { NdjsonSink } from './ndjson-sink';
import { pumpDemoShop } from './sink';

/** A deliberately slow reader with a tiny buffer, so the writer must wait for 'drain'. */
class SlowCollector extends Writable {
  chunks: string[] = [];
  maxBuffered = 0;

  constructor() {
    super({ highWaterMark: 1024, decodeStrings: false });
  }

  override _write(chunk: string | Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.maxBuffered = Math.max(this.maxBuffered, this.writableLength);
    this.chunks.push(chunk.toString());
    setImmediate(done);
  }

  get text(): string {
    return this.chunks.join('');
  }
}

/** An importer-style reading of the file, written separately from the writer. */
function readShopFile(text: string): { items: CatalogItem[]; events: ShopEvent[] } {
  const items: CatalogItem[] = [];
  const events: ShopEvent[] = [];
  const lines = text.split('\n');
  expect(lines.pop()).toBe('');
  for (const line of lines) {
    const record = JSON.parse(line);
    if (record.item) {
      expect(events).toHaveLength(0); // the catalog comes first
      items.push(record.item);
      continue;
    }
    expect(typeof record.timestamp).toBe('string');
    expect(record.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    events.push({
      eventId: record.eventId,
      type: record.type,
      userId: record.userId,
      sessionId: record.sessionId ?? null,
      itemId: record.itemId ?? null,
      timestamp: Date.parse(record.timestamp),
      properties: record.properties ?? null,
    });
  }
  return { items, events };
}

describe('NDJSON output', () => {
  const options = { users: 400, days: 5, seed: 9 };

  it('parses back to the same catalog and events, with backpressure respected', async () => {
    // Big enough (several MB) that the writer has to pause many times.
    const shop = createDemoShop({ users: 2000, days: 5, seed: 9 });
    const collector = new SlowCollector();
    const report = await pumpDemoShop(shop, new NdjsonSink(collector), 500);
    const parsed = readShopFile(collector.text);
    expect(parsed.items).toEqual(shop.items);
    const events = [...shop.events()];
    expect(parsed.events).toEqual(events);
    expect(report.events).toBe(events.length);
    expect(report.users).toBe(2000);
    // Without waiting for 'drain' the writer would have buffered the whole file; with it, one chunk.
    expect(collector.text.length).toBeGreaterThan(2_000_000);
    expect(collector.maxBuffered).toBeLessThan(300_000);
  });

  it('writes one label row per user, matching the ground truth', async () => {
    const shop = createDemoShop({ ...options, clickFarmShare: 0.1, fakeOrderShare: 0.1 });
    const collector = new SlowCollector();
    await writeLabelsCsv(shop, collector);
    const [header, ...rows] = collector.text.trimEnd().split('\n');
    expect(header).toBe('user_id,label');
    expect(rows).toHaveLength(400);
    rows.forEach((row, index) => {
      const [userId, label] = row.split(',');
      expect(userId).toBe(`u${index}`);
      expect(label).toBe(shop.groundTruth.label(index));
    });
    expect(new Set(rows.map((row) => row.split(',')[1]))).toEqual(new Set(['genuine', 'click_farm', 'fake_order']));
  });
});

describe('funnelcast generate', () => {
  let directory: string;
  let errors: string[];

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'sim-'));
    errors = [];
    jest.spyOn(console, 'error').mockImplementation((message: string) => void errors.push(message));
    jest.spyOn(console, 'log').mockImplementation(() => undefined);
  });

  afterEach(() => {
    jest.restoreAllMocks();
    rmSync(directory, { recursive: true, force: true });
  });

  it('writes the shop and its labels to files and reports a summary', async () => {
    const out = join(directory, 'shop.ndjson');
    const labels = join(directory, 'labels.csv');
    const code = await run(['--users', '300', '--days', '3', '--seed', '4', '--items', '60', '--start', '2026-03-01T00:00:00Z', '--out', out, '--labels', labels]);
    expect(code).toBe(0);
    const shop = createDemoShop({ users: 300, days: 3, seed: 4, items: 60, start: '2026-03-01T00:00:00Z' });
    const parsed = readShopFile(readFileSync(out, 'utf8'));
    expect(parsed.items).toEqual(shop.items);
    expect(parsed.events).toEqual([...shop.events()]);
    expect(readFileSync(labels, 'utf8').trimEnd().split('\n')).toHaveLength(301);
    expect(errors.join('\n')).toMatch(new RegExp(`generated ${parsed.events.length} events for 300 users .* and 60 items in .* events/s`));
  });

  it('ends the shop at the last UTC midnight unless --start is given', async () => {
    const out = join(directory, 'shop.ndjson');
    const midnight = () => Math.floor(Date.now() / 86_400_000) * 86_400_000;
    const before = midnight();
    expect(await run(['--users', '200', '--days', '2', '--seed', '4', '--out', out])).toBe(0);
    const after = midnight(); // the run may straddle a midnight
    const times = readShopFile(readFileSync(out, 'utf8')).events.map((event) => event.timestamp);
    const [first, last] = [Math.min(...times), Math.max(...times)];
    expect(first).toBeGreaterThanOrEqual(before - 2 * 86_400_000);
    expect(last).toBeLessThan(after);
    // The last day is not empty: 200 visitors over 2 days leave events in the final 24 hours.
    expect(last).toBeGreaterThanOrEqual(before - 86_400_000);
  });

  it('prints help and rejects bad options with a usage message', async () => {
    expect(await run(['--help'])).toBe(0);
    expect(await run(['--users', 'many'])).toBe(2);
    expect(await run(['--users', '10', '--colour', 'red'])).toBe(2);
    expect(errors.join('\n')).toContain('--colour');
  });
});
