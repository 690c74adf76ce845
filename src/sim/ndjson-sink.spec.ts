import { Writable } from 'node:stream';
import type { CatalogItem, ShopEvent } from '../events/event.types';
import { createDemoShop } from './generator';
import { writeLabelsCsv } from './labels-csv';
import { NdjsonSink } from './ndjson-sink';
import { pumpDemoShop } from './sink';
import { readShopFile } from './shop-file.reference';

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
