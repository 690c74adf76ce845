import type { DataSource } from 'typeorm';
import { importRecords, type ImportProgress, type ImportRecord, type ImportSummary } from '../events/import/import.service';
import type { DemoShop } from './generator';

/** The shop as the importer reads it: the catalog first, then every event in stream order. */
export function* demoShopRecords(shop: DemoShop): Generator<ImportRecord> {
  for (const item of shop.items) yield { kind: 'item', item };
  for (const event of shop.events()) yield { kind: 'event', event };
}

/**
 * Loads a generated shop straight into PostgreSQL through the importer's COPY path, with the same
 * rules and idempotency as `funnelcast import` (loading the same seed twice stores it once).
 */
export function loadDemoShop(
  dataSource: DataSource,
  shop: DemoShop,
  onProgress?: (progress: ImportProgress) => void,
): Promise<ImportSummary> {
  return importRecords(dataSource, demoShopRecords(shop), { onProgress });
}
