import type { DataSource } from 'typeorm';
import { withPgClient } from '../db/data-source';
import { toFloat4 } from '../db/float4';

/** Who did what with which item in a time range, one row per (user, item), ids as stored (users.id, items.id). */
export interface Interactions {
  users: Int32Array;
  items: Int32Array;
  /** The strongest event type's weight for the pair (a purchase outweighs a view). */
  weights: Float32Array;
  purchased: Uint8Array;
  eventCount: number;
}

export interface InteractionQuery {
  from: Date | null;
  to: Date;
  /** Weight per event type; types with weight 0 or not listed are left out. */
  weights: Record<string, number>;
  /** Users whose events are left out (the anomalous ones, when the run excludes them). */
  excludeUsers?: ReadonlySet<number>;
}

/**
 * Reads the event log aggregated to (user, item) pairs, split at `splitAt` into before and after.
 * PostgreSQL does the grouping, so what crosses the wire is one row per pair, not per event.
 */
export async function loadInteractions(dataSource: DataSource, query: InteractionQuery, splitAt: Date): Promise<{ before: Interactions; after: Interactions }> {
  const types = Object.entries(query.weights).filter(([, weight]) => weight > 0);
  const rows = await withPgClient(dataSource, async (client) => {
    const result = await client.query<InteractionRow>({
      text: `SELECT e.user_id, e.item_id, e.ts >= $3 AS after,
                    max(w.weight)::real AS weight, bool_or(e.type = 'purchase') AS purchased, count(*) AS events
             FROM events e
             JOIN unnest($4::text[], $5::real[]) AS w(type, weight) ON w.type = e.type
             WHERE e.item_id IS NOT NULL AND ($1::timestamptz IS NULL OR e.ts >= $1) AND e.ts < $2
               AND NOT (e.user_id = ANY($6::int[]))
             GROUP BY 1, 2, 3`,
      values: [query.from, query.to, splitAt, types.map(([type]) => type), types.map(([type, weight]) => toFloat4(weight, `the weight of ${type} events`)), [...(query.excludeUsers ?? [])]],
      rowMode: 'array',
    });
    return result.rows;
  });
  return interactionsOf(rows);
}

/** One (user, item, half) as the readers return it: user id, item id, after the split, weight, purchased, events (a count; PostgreSQL's bigint arrives as text). */
export type InteractionRow = [number, number, boolean, number, boolean, number | string];

/** Rows split into the halves before and after the split (shared by the PostgreSQL and ClickHouse readers). */
export function interactionsOf(rows: readonly InteractionRow[]): { before: Interactions; after: Interactions } {
  const part = (after: boolean): Interactions => {
    const selected = rows.filter((row) => row[2] === after);
    return {
      users: Int32Array.from(selected, (row) => row[0]),
      items: Int32Array.from(selected, (row) => row[1]),
      weights: Float32Array.from(selected, (row) => row[3]),
      purchased: Uint8Array.from(selected, (row) => (row[4] ? 1 : 0)),
      eventCount: selected.reduce((sum, row) => sum + Number(row[5]), 0),
    };
  };
  return { before: part(false), after: part(true) };
}

/** Both halves as one set of pairs: the strongest weight wins, a purchase in either half counts. */
export function mergeInteractions(a: Interactions, b: Interactions): Interactions {
  const merged = new Map<string, { user: number; item: number; weight: number; purchased: number }>();
  for (const part of [a, b]) {
    for (let i = 0; i < part.users.length; i++) {
      const key = `${part.users[i]}:${part.items[i]}`;
      const seen = merged.get(key);
      if (seen) {
        seen.weight = Math.max(seen.weight, part.weights[i]);
        seen.purchased |= part.purchased[i];
      } else merged.set(key, { user: part.users[i], item: part.items[i], weight: part.weights[i], purchased: part.purchased[i] });
    }
  }
  const pairs = [...merged.values()];
  return {
    users: Int32Array.from(pairs, (p) => p.user),
    items: Int32Array.from(pairs, (p) => p.item),
    weights: Float32Array.from(pairs, (p) => p.weight),
    purchased: Uint8Array.from(pairs, (p) => p.purchased),
    eventCount: a.eventCount + b.eventCount,
  };
}

/** Dense 0…n−1 indices for the ids that occur, and back. */
export class DenseIndex {
  readonly ids: number[] = [];
  private readonly positions = new Map<number, number>();

  constructor(ids: Iterable<number>) {
    for (const id of ids) this.add(id);
  }

  add(id: number): number {
    let position = this.positions.get(id);
    if (position === undefined) {
      position = this.ids.length;
      this.positions.set(id, position);
      this.ids.push(id);
    }
    return position;
  }

  get(id: number): number | undefined {
    return this.positions.get(id);
  }

  get size(): number {
    return this.ids.length;
  }
}
