import type { DataSource, Repository } from 'typeorm';
import { In } from 'typeorm';
import { UserFacingError, badInput } from '../graphql/errors';
import { MAX_ITEMS_PER_UPSERT } from '../graphql/input-rules';
import { Item } from './item.entity';
import type { ItemInput, ItemView, UpsertItemsResult } from './item.input';

export function toItemView(item: Item): ItemView {
  return {
    id: item.externalId,
    title: item.title,
    category: item.category,
    brand: item.brand,
    price: item.price,
    properties: item.properties,
    available: item.available,
    updatedAt: item.updatedAt,
  };
}

/** Adds `has`: the fields the client actually sent, so absent fields are left alone. */
function withPresentFields(input: ItemInput): Record<string, unknown> {
  const record = { ...input } as Record<string, unknown>;
  return { ...record, has: Object.keys(record).filter((key) => record[key] !== undefined) };
}

/** The item catalog. Items first seen in events exist as bare rows until the catalog fills them in. */
export class CatalogService {
  private readonly items: Repository<Item>;

  constructor(private readonly dataSource: DataSource) {
    this.items = dataSource.getRepository(Item);
  }

  async upsert(inputs: ItemInput[]): Promise<UpsertItemsResult> {
    if (inputs.length > MAX_ITEMS_PER_UPSERT) {
      throw new UserFacingError('BATCH_TOO_LARGE', `At most ${MAX_ITEMS_PER_UPSERT} items per call; this one has ${inputs.length}.`);
    }
    const seen = new Set<string>();
    for (const input of inputs) {
      if (seen.has(input.id)) throw badInput(`Item id "${input.id}" appears twice in one call; send each item once.`);
      seen.add(input.id);
    }
    if (inputs.length === 0) return { created: 0, updated: 0 };
    // One statement: all items change together or none do. A field left out keeps its stored value;
    // a field sent as null clears it.
    const rows: { created: boolean }[] = await this.dataSource.query(
      `INSERT INTO items AS it (external_id, title, category, brand, price, properties, available, updated_at)
       SELECT x.id,
              CASE WHEN x.has ? 'title' THEN x.title ELSE cur.title END,
              CASE WHEN x.has ? 'category' THEN x.category ELSE cur.category END,
              CASE WHEN x.has ? 'brand' THEN x.brand ELSE cur.brand END,
              CASE WHEN x.has ? 'price' THEN x.price ELSE cur.price END,
              CASE WHEN x.has ? 'properties' THEN COALESCE(x.properties, '{}'::jsonb) ELSE COALESCE(cur.properties, '{}'::jsonb) END,
              CASE WHEN x.has ? 'available' THEN COALESCE(x.available, true) ELSE COALESCE(cur.available, true) END,
              now()
       FROM jsonb_to_recordset($1::jsonb) AS x(id text, title text, category text, brand text, price numeric,
                                                properties jsonb, available boolean, has jsonb)
       LEFT JOIN items cur ON cur.external_id = x.id
       ON CONFLICT (external_id) DO UPDATE SET
         title = EXCLUDED.title, category = EXCLUDED.category, brand = EXCLUDED.brand, price = EXCLUDED.price,
         properties = EXCLUDED.properties, available = EXCLUDED.available, updated_at = EXCLUDED.updated_at
       RETURNING (xmax = 0) AS created`,
      [JSON.stringify(inputs.map(withPresentFields))],
    );
    const created = rows.filter((row) => row.created).length;
    return { created, updated: rows.length - created };
  }

  async findByExternalId(id: string): Promise<ItemView | null> {
    const item = await this.items.findOne({ where: { externalId: id } });
    return item ? toItemView(item) : null;
  }

  /** For DataLoader-style batch reads (recommendations list many items at once). */
  async findManyByExternalId(ids: readonly string[]): Promise<(ItemView | null)[]> {
    const found = await this.items.find({ where: { externalId: In([...ids]) } });
    const byId = new Map(found.map((item) => [item.externalId, toItemView(item)]));
    return ids.map((id) => byId.get(id) ?? null);
  }
}
