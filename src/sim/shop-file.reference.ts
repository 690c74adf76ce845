import type { CatalogItem, ShopEvent } from '../events/event.types';

/** An importer-style reading of the file, written separately from the writer. */
export function readShopFile(text: string): { items: CatalogItem[]; events: ShopEvent[] } {
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
