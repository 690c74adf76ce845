import type { DataSource } from 'typeorm';
import { importRecords, type ImportProgress, type ImportRecord, type ImportSummary } from '../events/import/import.service';
import type { DemoShop } from './generator';

/** The importer's progress, and how many of the shop's users the generator has handed over so far. */
export interface DemoLoadProgress extends ImportProgress {
  users: number;
}

/** The shop as the importer reads it: the catalog first, then every event in stream order; `onUser` counts shoppers handed over. */
export function* demoShopRecords(shop: DemoShop, onUser?: () => void): Generator<ImportRecord> {
  for (const item of shop.items) yield { kind: 'item', item };
  for (const story of shop.shoppers()) {
    onUser?.();
    for (const event of story.events) yield { kind: 'event', event };
  }
}

/**
 * Loads a generated shop straight into PostgreSQL through the importer's COPY path, with the same
 * rules and idempotency as `funnelcast import` (loading the same seed twice stores it once).
 */
export function loadDemoShop(
  dataSource: DataSource,
  shop: DemoShop,
  onProgress?: (progress: DemoLoadProgress) => void,
): Promise<ImportSummary> {
  let users = 0;
  const records = demoShopRecords(shop, () => users++);
  return importRecords(dataSource, records, { onProgress: onProgress && ((progress) => onProgress({ ...progress, users })) });
}
