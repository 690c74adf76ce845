import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { CatalogItem, ShopEvent } from '../event.types';
import type { ItemFacts } from './import.types';
import { pseudonymousId } from '../../privacy/pseudonym';
import { monthStart, WITHIN_RETENTION } from '../event-partitions';

/**
 * One batch of an import: rows encoded for `COPY … FROM STDIN` (text format) into temporary
 * staging tables, then merged into users, items and events in one transaction.
 *
 * Staging keeps the shop's own ids; the merge resolves them to dense ids with set-based joins,
 * which is what makes a bulk load fast: no per-row round trips, no per-row id lookups in Node.
 */
const STAGED_EVENTS = 'import_staged_events';
const STAGED_USERS = 'import_staged_users';
const STAGED_ITEMS = 'import_staged_items';

const STAGING_DDL = [
  `CREATE TEMP TABLE ${STAGED_EVENTS} (
     seq bigint NOT NULL, event_id text NOT NULL, user_ext text NOT NULL, session_id text, type text NOT NULL,
     item_ext text, ts_ms bigint NOT NULL, props jsonb
   ) ON COMMIT DELETE ROWS`,
  `CREATE TEMP TABLE ${STAGED_USERS} (seq integer NOT NULL, user_ext text NOT NULL) ON COMMIT DELETE ROWS`,
  `CREATE TEMP TABLE ${STAGED_ITEMS} (
     seq integer NOT NULL, item_ext text NOT NULL, title text, category text, brand text, price numeric,
     properties jsonb, available boolean
   ) ON COMMIT DELETE ROWS`,
];

const COPY_EVENTS = `COPY ${STAGED_EVENTS} (seq, event_id, user_ext, session_id, type, item_ext, ts_ms, props) FROM STDIN`;
const COPY_USERS = `COPY ${STAGED_USERS} (seq, user_ext) FROM STDIN`;
const COPY_ITEMS = `COPY ${STAGED_ITEMS} (seq, item_ext, title, category, brand, price, properties, available) FROM STDIN`;

// Dense ids: skipping known users before the insert keeps the serial from burning a value per
// conflicting row. Ids follow first appearance in the file.
const MERGE_USERS = `
  INSERT INTO users (external_id)
  SELECT s.user_ext FROM ${STAGED_USERS} s
  WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.external_id = s.user_ext)
  ORDER BY s.seq
  ON CONFLICT (external_id) DO NOTHING`;

// Newer facts win field by field and a missing fact never erases a known one (the batch's own rows
// were already folded that way in Node). Items whose facts are stored already are left alone, so
// re-importing a file rewrites nothing.
const MERGE_ITEMS = `
  WITH changed AS (
    UPDATE items i SET
      title = COALESCE(n.title, i.title),
      category = COALESCE(n.category, i.category),
      brand = COALESCE(n.brand, i.brand),
      price = COALESCE(n.price, i.price),
      available = COALESCE(n.available, i.available),
      properties = CASE WHEN n.properties IS NULL THEN i.properties ELSE i.properties || n.properties END,
      updated_at = now()
    FROM (SELECT item_ext, title, category, brand, round(price, 2) AS price, properties, available FROM ${STAGED_ITEMS}) n
    WHERE i.external_id = n.item_ext
      AND ((n.title IS NOT NULL AND n.title IS DISTINCT FROM i.title)
        OR (n.category IS NOT NULL AND n.category IS DISTINCT FROM i.category)
        OR (n.brand IS NOT NULL AND n.brand IS DISTINCT FROM i.brand)
        OR (n.price IS NOT NULL AND n.price IS DISTINCT FROM i.price)
        OR (n.available IS NOT NULL AND n.available IS DISTINCT FROM i.available)
        OR (n.properties IS NOT NULL AND i.properties || n.properties IS DISTINCT FROM i.properties))
    RETURNING 1
  ), added AS (
    INSERT INTO items (external_id, title, category, brand, price, properties, available)
    SELECT n.item_ext, n.title, n.category, n.brand, n.price, COALESCE(n.properties, '{}'::jsonb), COALESCE(n.available, true)
    FROM ${STAGED_ITEMS} n
    WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.external_id = n.item_ext)
    ORDER BY n.seq
    ON CONFLICT (external_id) DO NOTHING
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM changed)::int AS changed, (SELECT count(*) FROM added)::int AS added`;

// ORDER BY seq makes events.id follow the file, the tie-break for equal timestamps. A row whose
// event_id is stored already, or came earlier in this batch, is skipped by the row trigger
// `claim_event_id` (migration 1765600000000). FOR KEY SHARE of the users: as at ingest
// (event.service.ts), an erasure and this batch wait for each other. Rows older than the retention
// cutoff are left out (and counted by BEYOND_RETENTION_COUNT first).
const EVENT_TS = `timestamptz 'epoch' + s.ts_ms * interval '1 millisecond'`;
const MERGE_EVENTS = `
  INSERT INTO events (event_id, user_id, session_id, type, item_id, ts, props)
  SELECT s.event_id, u.id, s.session_id, s.type, i.id, ${EVENT_TS}, s.props
  FROM ${STAGED_EVENTS} s
  JOIN users u ON u.external_id = s.user_ext
  LEFT JOIN items i ON i.external_id = s.item_ext
  WHERE ${EVENT_TS} ${WITHIN_RETENTION}
  ORDER BY s.seq
  FOR KEY SHARE OF u`;
const BEYOND_RETENTION_COUNT = `SELECT count(*)::int AS n FROM ${STAGED_EVENTS} s WHERE NOT (${EVENT_TS} ${WITHIN_RETENTION})`;

const NEEDS_ESCAPE = /[\\\t\n\r]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A value in COPY's text format; `\N` is NULL. */
export function copyValue(value: string | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  return NEEDS_ESCAPE.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]) : value;
}

function copyNumber(value: number | null | undefined): string {
  return value === null || value === undefined ? '\\N' : String(value);
}

/**
 * Rows are collected as separate strings and joined a few thousand at a time: appending to one
 * string builds rope objects that cost the garbage collector more than the COPY itself.
 */
const ROWS_PER_PIECE = 4096;

/** Rows of one staged table in COPY text format. */
class CopyText {
  private readonly pieces: string[] = [];
  private rows: string[] = [];

  append(row: string): void {
    this.rows.push(row);
    if (this.rows.length >= ROWS_PER_PIECE) {
      this.pieces.push(this.rows.join(''));
      this.rows = [];
    }
  }

  take(): string[] {
    if (this.rows.length > 0) this.pieces.push(this.rows.join(''));
    this.rows = [];
    return this.pieces.splice(0);
  }
}

/** What the batch knows about one item so far: later non-null facts replace earlier ones. */
interface ItemDraft {
  title: string | null;
  category: string | null;
  brand: string | null;
  price: number | null;
  available: boolean | null;
  properties: Record<string, unknown> | null;
}

export class StagingBatch {
  /** Events in the batch. */
  events = 0;
  /** Events plus catalog records: what the batch size counts. */
  rows = 0;
  /** The UTC months (start, ms) the batch's events fall in: only these get partitions, not the months between. */
  private readonly months = new Set<number>();
  private readonly eventRows = new CopyText();
  /** First-seen order; the Set keeps it and drops repeats, so the database never groups users. */
  private readonly users = new Set<string>();
  private readonly items = new Map<string, ItemDraft>();

  addEvent(seq: number, event: ShopEvent, propertiesJson: string | null, facts: ItemFacts | undefined): void {
    // Stored under its pseudonym when FUNNELCAST_PSEUDONYMIZE_KEY is set (privacy/pseudonym.ts).
    const userId = pseudonymousId(event.userId);
    this.eventRows.append(
      `${seq}\t${copyValue(event.eventId)}\t${copyValue(userId)}\t${copyValue(event.sessionId)}\t${copyValue(event.type)}\t` +
        `${copyValue(event.itemId)}\t${event.timestamp}\t${copyValue(propertiesJson)}\n`,
    );
    this.users.add(userId);
    if (event.itemId !== null) this.noteItem(event.itemId, facts, null, undefined);
    this.months.add(monthStart(event.timestamp));
    this.events++;
    this.rows++;
  }

  addItem(item: CatalogItem): void {
    this.noteItem(item.itemId, item, item.properties ?? null, item.available);
    this.rows++;
  }

  private noteItem(
    itemId: string,
    facts: ItemFacts | undefined,
    properties: Record<string, unknown> | null,
    available: boolean | undefined,
  ): void {
    let draft = this.items.get(itemId);
    if (draft === undefined) {
      draft = { title: null, category: null, brand: null, price: null, available: null, properties: null };
      this.items.set(itemId, draft);
    }
    if (facts !== undefined) {
      const title = (facts as CatalogItem).title;
      if (title !== undefined && title !== null) draft.title = title;
      if (facts.category !== undefined && facts.category !== null) draft.category = facts.category;
      if (facts.brand !== undefined && facts.brand !== null) draft.brand = facts.brand;
      if (facts.price !== undefined && facts.price !== null) draft.price = facts.price;
    }
    if (available !== undefined && available !== null) draft.available = available;
    if (properties !== null) draft.properties = draft.properties === null ? { ...properties } : Object.assign(draft.properties, properties);
  }

  private userRows(): string[] {
    const rows = new CopyText();
    let seq = 0;
    for (const userId of this.users) rows.append(`${++seq}\t${copyValue(userId)}\n`);
    return rows.take();
  }

  private itemRows(): string[] {
    const rows = new CopyText();
    let seq = 0;
    for (const [itemId, d] of this.items) {
      const available = d.available === null ? '\\N' : d.available ? 't' : 'f';
      const properties = d.properties === null ? null : JSON.stringify(d.properties);
      rows.append(
        `${++seq}\t${copyValue(itemId)}\t${copyValue(d.title)}\t${copyValue(d.category)}\t${copyValue(d.brand)}\t` +
          `${copyNumber(d.price)}\t${copyValue(properties)}\t${available}\n`,
      );
    }
    return rows.take();
  }

  /** COPYs the batch into staging and merges it, all in one transaction. */
  async merge(client: PoolClient): Promise<{ inserted: number; usersAdded: number; itemsUpserted: number; beyondRetention: number }> {
    // Every month of the batch must have its partition (event-partitions.ts); created outside the
    // merge's transaction so the ATTACH's lock is not held while it runs.
    if (this.events > 0) {
      await client.query(`SET lock_timeout = '10s'`);
      try {
        for (const month of this.months) await client.query(`SELECT ensure_event_partitions($1, $1)`, [new Date(month)]);
      } finally {
        await client.query(`SET lock_timeout = 0`);
      }
    }
    await client.query('BEGIN');
    try {
      // The merge sorts a batch by file order; the default 4 MB would spill those sorts to disk.
      await client.query(`SET LOCAL work_mem = '64MB'`);
      await copyRows(client, COPY_EVENTS, this.eventRows.take());
      await copyRows(client, COPY_USERS, this.userRows());
      await copyRows(client, COPY_ITEMS, this.itemRows());
      const users = await client.query(MERGE_USERS);
      const items = await client.query<{ changed: number; added: number }>(MERGE_ITEMS);
      const beyond = await client.query<{ n: number }>(BEYOND_RETENTION_COUNT);
      const events = await client.query(MERGE_EVENTS);
      await client.query('COMMIT');
      return {
        beyondRetention: beyond.rows[0].n,
        inserted: events.rowCount ?? 0,
        usersAdded: users.rowCount ?? 0,
        itemsUpserted: items.rows[0].changed + items.rows[0].added,
      };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }
}

async function copyRows(client: PoolClient, copySql: string, pieces: string[]): Promise<void> {
  if (pieces.length === 0) return;
  await pipeline(Readable.from(pieces), client.query(copyFrom(copySql)));
}

/** The staging tables live on one connection for one import; dropped after so a pooled connection carries nothing over. */
export async function createStaging(client: PoolClient): Promise<void> {
  await dropStaging(client);
  for (const ddl of STAGING_DDL) await client.query(ddl);
}

export async function dropStaging(client: PoolClient): Promise<void> {
  await client.query(`DROP TABLE IF EXISTS pg_temp.${STAGED_EVENTS}, pg_temp.${STAGED_USERS}, pg_temp.${STAGED_ITEMS}`);
}
