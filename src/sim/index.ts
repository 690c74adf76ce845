export { createDemoShop, type DemoShop, type DemoShopGroundTruth, type DemoShopSummary } from './generator';
export { DEFAULT_START, startEndingToday, type DemoShopOptions, type ResolvedShopOptions } from './options';
export { CHANNELS, DEVICES, USER_LABELS, type Channel, type Device, type UserLabel } from './shopper';
export type { SessionKind, SessionTruth, ShopperStory } from './behaviour';
export type { ShopCatalog } from './catalog';
export { pumpDemoShop, type PumpReport, type ShopSink } from './sink';
export { NdjsonSink, catalogLine, eventLine } from './ndjson-sink';
export { writeLabelsCsv } from './labels-csv';
