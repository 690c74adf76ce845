import type { CatalogItem, ShopEvent } from '../events/event.types';
import type { DemoShop } from './generator';
import type { UserLabel } from './shopper';

/**
 * Where a generated shop goes. The NDJSON file writer is one sink; a database loader (the
 * importer's, for `generate --load`) is meant to be another, so the generator never learns about
 * PostgreSQL. Each call resolves once the sink can take more, which is how backpressure reaches
 * the generator.
 */
export interface ShopSink {
  writeCatalog(items: readonly CatalogItem[]): Promise<void>;
  writeEvents(events: readonly ShopEvent[]): Promise<void>;
  close(): Promise<void>;
}

export interface PumpReport {
  events: number;
  users: number;
  items: number;
  labels: Record<UserLabel, number>;
}

/** Streams the catalog, then every event in batches, into a sink; memory stays one batch. `onBatch` sees the report after each batch. */
export async function pumpDemoShop(
  shop: DemoShop,
  sink: ShopSink,
  batchSize = 10_000,
  onBatch?: (report: Readonly<PumpReport>) => void,
): Promise<PumpReport> {
  const report: PumpReport = { events: 0, users: 0, items: shop.items.length, labels: { genuine: 0, click_farm: 0, fake_order: 0 } };
  await sink.writeCatalog(shop.items);
  let batch: ShopEvent[] = [];
  for (const story of shop.shoppers()) {
    report.users++;
    report.labels[story.label]++;
    for (const event of story.events) batch.push(event);
    if (batch.length >= batchSize) {
      report.events += batch.length;
      await sink.writeEvents(batch);
      batch = [];
      onBatch?.(report);
    }
  }
  if (batch.length > 0) {
    report.events += batch.length;
    await sink.writeEvents(batch);
  }
  onBatch?.(report);
  await sink.close();
  return report;
}
