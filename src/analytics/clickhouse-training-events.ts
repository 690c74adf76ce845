/**
 * The training readers over ClickHouse's copy of the events (docs/analytics-store.md, "Training
 * from ClickHouse"): the same rows as `PostgresTrainingEvents`, in the same order and units.
 *
 * - Events: `events FINAL` (each event once, deleted and erased users' events gone), ordered by
 *   (user_id, ts, id) like PostgreSQL's reads; `ts` is microseconds, so a time in milliseconds is
 *   `ts / 1000` (a Float64 division, the double nearest the exact value, as PostgreSQL's
 *   `extract(epoch …) * 1000)::float8`), and the anomaly features' whole milliseconds round half
 *   away from zero like PostgreSQL's `::bigint`.
 * - Properties read as PostgreSQL's `props->>'key'`: a string's value (`JSONExtractString`); JSON
 *   null or no key is NULL; any other value is its JSON text as PostgreSQL prints it, cut from the
 *   stored text here (`jsonbText`), since ClickHouse's `JSONExtractRaw` reformats numbers (1.50 → 1.5).
 *   A price is the property when it is a JSON number (`JSONExtractFloat`), else the catalog's.
 * - The catalog (item category and price) is not in ClickHouse: it is read from PostgreSQL at the
 *   read (one row per item) and joined here, as PostgreSQL's `LEFT JOIN items` does.
 *
 * Before every read the copy catches up with PostgreSQL (`ClickHouseSync.catchUp`), so a read
 * sees at least every event committed before it began, like a PostgreSQL statement; see
 * `trainingEventReaderOf` for which store a process reads. Scans go by ranges of user ids
 * (`pages`), so what is held besides the result is one page of rows, as PostgreSQL's COPY stream
 * holds one user-day for the anomaly features.
 */
import type { DataSource } from 'typeorm';
import type { Config } from '../config';
import { logger } from '../logger';
import { UserFeatureStream, type FeatureWindow, type UserFeatureTable } from '../anomaly/feature-extraction';
import type { UserHistory } from '../predict/datasets';
import { historiesOf, type HistoryRow } from '../predict/event-history';
import type { InteractionQuery, Interactions } from '../recommend/interactions';
import { interactionsOf } from '../recommend/interactions';
import { ITEM_EVENT_TYPES, itemEventLogOf, type ItemEventLog, type ItemEventRow } from '../recommend/item-events';
import { PostgresTrainingEvents, type TrainingEventReader } from '../training-events';
import { toFloat4 } from '../db/float4';
import { ChdbClient, clickhouseClientOf, sqlString, type ClickHouseClient } from './clickhouse-client';
import { tableName } from './clickhouse-schema';
import { ClickHouseSync, StaleCopyError } from './clickhouse-sync';

/** Runs `read` with a client on the store: a shared one, or a chdb folder opened for the read. */
export type ClickHouseAccess = <T>(read: (client: ClickHouseClient) => Promise<T>) => Promise<T>;

/** Every read through `client` (a server, or a chdb folder this process already holds). */
export function sharedClickHouse(client: ClickHouseClient): ClickHouseAccess {
  return (read) => read(client);
}

/** How long a training process waits for another one to release an embedded folder before failing. */
const FOLDER_WAIT_MS = 30 * 60 * 1000;
const FOLDER_RETRY_MS = 500;

/**
 * Embedded ClickHouse opened for each read and closed after it: a chdb folder is held by one
 * process at a time, and concurrent training jobs run in separate processes, so each waits (up to
 * 30 minutes, retrying every 0.5 s) while another holds the folder.
 */
export function chdbPerRead(path: string): ClickHouseAccess {
  return async (read) => {
    const started = Date.now();
    for (;;) {
      let client: ChdbClient;
      try {
        client = new ChdbClient(path);
      } catch (error) {
        const held = /Cannot lock file|already running/i.test(String((error as { cause?: unknown }).cause ?? '') + String(error));
        if (!held || Date.now() - started > FOLDER_WAIT_MS) throw error;
        await new Promise((resolve) => setTimeout(resolve, FOLDER_RETRY_MS));
        continue;
      }
      try {
        return await read(client);
      } finally {
        await client.close();
      }
    }
  };
}

export interface ClickHouseTrainingEventsOptions {
  database: string;
  /** The sync's rows per INSERT (FUNNELCAST_CLICKHOUSE_SYNC_BATCH). */
  batchSize: number;
  deletionLogDays?: number;
  /** Users per query of a scan (default USERS_PER_PAGE); tests make it small to cross page boundaries. */
  usersPerPage?: number;
  /**
   * The copy is this reader's own (a training folder): when it fell further behind than the
   * deletion log reaches (StaleCopyError), empty it and copy afresh instead of failing. Never for a
   * copy the API answers funnels from.
   */
  ownCopy?: boolean;
}

/** `props->>'key'` for the keys the readers take, as SQL over ClickHouse's `props` (see the module's comment). */
function propSql(key: string): string {
  const k = sqlString(key);
  return `if(JSONType(props, ${k}) = 'String', JSONExtractString(props, ${k}), NULL)`;
}

/** `props` itself when one of `keys` holds neither a string nor null (its text is cut here), else NULL. */
function rawPropsSql(keys: readonly string[]): string {
  return `if(${keys.map((key) => `JSONType(props, ${sqlString(key)}) NOT IN ('String', 'Null')`).join(' OR ')}, props, NULL)`;
}

/** `props->>'key'` from the string value ClickHouse extracted, or from the raw text when the value is no string. */
function propText(value: string | null, raw: string | null, key: string): string | null {
  if (value !== null || raw === null) return value;
  return jsonbText(raw, key);
}

function skipSpace(text: string, at: number): number {
  while (at < text.length && (text[at] === ' ' || text[at] === '\n' || text[at] === '\t' || text[at] === '\r')) at++;
  return at;
}

/** Index after the JSON string that opens at `at`. */
function stringEnd(text: string, at: number): number {
  let i = at + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

/** Index after the JSON value that starts at `at`. */
function valueEnd(text: string, at: number): number {
  const first = text[at];
  if (first === '"') return stringEnd(text, at);
  if (first === '{' || first === '[') {
    let depth = 0;
    let i = at;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        i = stringEnd(text, i);
        continue;
      }
      if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return i;
  }
  let i = at;
  while (i < text.length && !',}] \n\t\r'.includes(text[i])) i++;
  return i;
}

/**
 * PostgreSQL's `props->>'key'` from the object's text as PostgreSQL printed it (what the sync stores):
 * null for no such key or JSON null, a string's value unescaped, any other value's text unchanged.
 * jsonb keeps one value per key, so the first match is the one.
 */
export function jsonbText(json: string, key: string): string | null {
  let i = skipSpace(json, 0);
  if (json[i] !== '{') return null;
  i = skipSpace(json, i + 1);
  while (i < json.length && json[i] === '"') {
    const keyEnd = stringEnd(json, i);
    const name = JSON.parse(json.slice(i, keyEnd)) as string;
    i = skipSpace(json, skipSpace(json, keyEnd) + 1); // past ':'
    const end = valueEnd(json, i);
    if (name === key) {
      const raw = json.slice(i, end);
      return raw === 'null' ? null : raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    }
    i = skipSpace(json, end);
    if (json[i] === ',') i = skipSpace(json, i + 1);
  }
  return null;
}

/**
 * Users per query of a scan: the rows of one page are held as objects at a time (about 13 events a
 * user in the demo shop: ~260,000 rows), and only the typed result grows, as PostgreSQL's reads hold it.
 */
const USERS_PER_PAGE = 20_000;

interface CatalogItem {
  category: string | null;
  price: number | null;
}

export class ClickHouseTrainingEvents implements TrainingEventReader {
  readonly engine = 'clickhouse' as const;
  private readonly syncs = new WeakMap<ClickHouseClient, ClickHouseSync>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly access: ClickHouseAccess,
    private readonly options: ClickHouseTrainingEventsOptions,
  ) {}

  private get events(): string {
    return `${tableName(this.options.database, 'events')} FINAL`;
  }

  /** Catches the copy up with PostgreSQL, then reads. */
  private read<T>(query: (client: ClickHouseClient) => Promise<T>): Promise<T> {
    return this.access(async (client) => {
      let sync = this.syncs.get(client);
      if (!sync) {
        sync = new ClickHouseSync(this.dataSource, client, { database: this.options.database, batchSize: this.options.batchSize, deletionLogDays: this.options.deletionLogDays });
        this.syncs.set(client, sync);
      }
      try {
        await sync.catchUp();
      } catch (error) {
        if (!(error instanceof StaleCopyError && this.options.ownCopy)) throw error;
        logger().warn({ store: client.description }, 'the training copy of the events is older than the deletion log; copying it afresh');
        await client.command(`TRUNCATE TABLE ${tableName(this.options.database, 'events')}`);
        await client.command(`TRUNCATE TABLE ${tableName(this.options.database, 'sync_position')}`);
        await sync.catchUp();
      }
      return query(client);
    });
  }

  /**
   * Runs `sql(userRange)` for consecutive ranges of user ids (ascending, USERS_PER_PAGE each) and
   * hands each page's rows to `consume`: with ORDER BY (user_id, ts, id) in `sql`, the pages in turn
   * are the scan's rows in order. Each user's events come from one query; a page read after another
   * may include events copied in between (the API's sync loop), like events committed during a
   * PostgreSQL read, which that read may or may not see.
   */
  private async pages<Row>(client: ClickHouseClient, sql: (users: string) => string, consume: (rows: Row[]) => void): Promise<void> {
    // An upper bound on the ids (without FINAL: a deleted user's id only costs an empty page).
    const [{ top }] = await client.query<{ top: number }>(`SELECT max(user_id) AS top FROM ${tableName(this.options.database, 'events')}`);
    const step = this.options.usersPerPage ?? USERS_PER_PAGE;
    for (let low = 0; low <= Number(top); low += step) consume(await client.query<Row>(sql(`user_id >= ${low} AND user_id < ${low + step}`)));
  }

  /** `from ≤ ts < to` in microseconds, and the excluded users. */
  private where(range: { from: Date | null; to: Date }, excludeUsers?: ReadonlySet<number>): string {
    const conditions = [`ts < ${range.to.getTime() * 1000}`];
    if (range.from) conditions.push(`ts >= ${range.from.getTime() * 1000}`);
    if (excludeUsers && excludeUsers.size > 0) conditions.push(`user_id NOT IN (${[...excludeUsers].map((id) => Math.trunc(id)).join(', ')})`);
    return conditions.join(' AND ');
  }

  /** Category and price of every item, from PostgreSQL (the catalog as it is now). */
  private async catalog(): Promise<Map<number, CatalogItem>> {
    const rows: { id: number; category: string | null; price: number | null }[] = await this.dataSource.query(`SELECT id, category, price::float8 AS price FROM items`);
    return new Map(rows.map((row) => [row.id, { category: row.category, price: row.price }]));
  }

  async itemEvents(range: { from: Date | null; to: Date; excludeUsers?: ReadonlySet<number> }): Promise<ItemEventLog> {
    const types = ITEM_EVENT_TYPES.map(sqlString).join(', ');
    const rows: ItemEventRow[] = [];
    await this.read((client) =>
      this.pages<{ u: number; s: string | null; i: number; t: string; ms: number }>(
        client,
        (users) => `SELECT user_id AS u, session_id AS s, item_id AS i, type AS t, ts / 1000 AS ms FROM ${this.events}
         WHERE ${users} AND item_id IS NOT NULL AND type IN (${types}) AND ${this.where(range, range.excludeUsers)}
         ORDER BY user_id, ts, id`,
        (page) => {
          for (const row of page) rows.push([row.u, row.s, row.i, row.t, row.ms]);
        },
      ),
    );
    return itemEventLogOf(rows);
  }

  async histories(from: Date | null, to: Date, userIds?: readonly number[]): Promise<UserHistory[]> {
    const only = userIds === undefined ? '' : ` AND user_id IN (${userIds.length === 0 ? 'NULL' : userIds.map((id) => Math.trunc(id)).join(', ')})`;
    const catalog = await this.catalog();
    const rows: HistoryRow[] = [];
    await this.read((client) =>
      this.pages<{ u: number; s: string | null; t: string; ms: number; i: number | null; c: string | null; cc: string | null; ci: string | null; p: number | null; d: string | null; ch: string | null; raw: string | null }>(
        client,
        (users) => `SELECT user_id AS u, session_id AS s, type AS t, ts / 1000 AS ms, item_id AS i,
                  ${propSql('category')} AS c, ${propSql('categoryCode')} AS cc, ${propSql('categoryId')} AS ci,
                  if(JSONType(props, 'price') IN ('Int64', 'UInt64', 'Double'), JSONExtractFloat(props, 'price'), NULL) AS p,
                  ${propSql('device')} AS d, ${propSql('channel')} AS ch,
                  ${rawPropsSql(['category', 'categoryCode', 'categoryId', 'device', 'channel'])} AS raw
           FROM ${this.events} WHERE ${users} AND ${this.where({ from, to })}${only}
           ORDER BY user_id, ts, id`,
        (page) => {
          for (const row of page) {
            const item = row.i === null ? undefined : catalog.get(row.i);
            const category = item?.category ?? propText(row.c, row.raw, 'category') ?? propText(row.cc, row.raw, 'categoryCode') ?? propText(row.ci, row.raw, 'categoryId');
            const price = row.p !== null ? row.p : (item?.price ?? null);
            rows.push([row.u, row.s, row.t, row.ms, category, price, propText(row.d, row.raw, 'device'), propText(row.ch, row.raw, 'channel')]);
          }
        },
      ),
    );
    return historiesOf(rows);
  }

  async userFeatures(window: FeatureWindow, onProgress?: (usersDone: number, eventsDone: number) => void): Promise<UserFeatureTable> {
    const catalog = await this.catalog();
    const features = new UserFeatureStream(onProgress);
    await this.read((client) =>
      this.pages<{ u: number; ms: number; t: string; s: string | null; i: number | null; c: string | null; d: string | null; ip: string | null; raw: string | null }>(
        client,
        // Whole milliseconds rounded half away from zero, as PostgreSQL's numeric → bigint.
        (users) => `SELECT user_id AS u, if(ts >= 0, intDiv(ts + 500, 1000), -intDiv(500 - ts, 1000)) AS ms, type AS t, session_id AS s, item_id AS i,
                  ${propSql('category')} AS c, ${propSql('device')} AS d, ${propSql('ip')} AS ip,
                  ${rawPropsSql(['category', 'device', 'ip'])} AS raw
           FROM ${this.events} WHERE ${users} AND ${this.where(window)}
           ORDER BY user_id, ts, id`,
        (page) => {
          for (const row of page) {
            const category = (row.i === null ? undefined : catalog.get(row.i)?.category) ?? propText(row.c, row.raw, 'category');
            features.push(row.u, row.ms, row.t, row.s, row.i ?? -1, category, propText(row.d, row.raw, 'device'), propText(row.ip, row.raw, 'ip'));
          }
        },
      ),
    );
    return features.finish();
  }

  async interactions(query: InteractionQuery, splitAt: Date): Promise<{ before: Interactions; after: Interactions }> {
    const types = Object.entries(query.weights).filter(([, weight]) => weight > 0);
    if (types.length === 0) return interactionsOf([]);
    const names = `[${types.map(([type]) => sqlString(type)).join(', ')}]`;
    const weights = `CAST([${types.map(([type, weight]) => toFloat4(weight, `the weight of ${type} events`)).join(', ')}] AS Array(Float32))`;
    const rows = await this.read((client) =>
      client.query<{ u: number; i: number; after: number; w: number; p: number; n: number }>(
        `SELECT user_id AS u, item_id AS i, ts >= ${splitAt.getTime() * 1000} AS after,
                max(transform(type, ${names}, ${weights}, toFloat32(0))) AS w, max(type = 'purchase') AS p, count() AS n
         FROM ${this.events}
         WHERE item_id IS NOT NULL AND type IN ${names} AND ${this.where({ from: query.from, to: query.to }, query.excludeUsers)}
         GROUP BY u, i, after`,
      ),
    );
    return interactionsOf(rows.map((row) => [row.u, row.i, row.after === 1, row.w, row.p === 1, row.n]));
  }
}

/**
 * The reader the configuration asks training to use: PostgreSQL unless FUNNELCAST_ANALYTICS=clickhouse;
 * then the ClickHouse server at FUNNELCAST_CLICKHOUSE_URL (the copy the API keeps, caught up again
 * before each read), or embedded ClickHouse in FUNNELCAST_CLICKHOUSE_TRAINING_PATH, the training
 * processes' own copy (a chdb folder is held by one process, and the API holds its own), opened for
 * each read. A server client is made once per process and kept.
 */
export function trainingEventReaderOf(dataSource: DataSource, config: Config): TrainingEventReader {
  if (config.analytics !== 'clickhouse') return new PostgresTrainingEvents(dataSource);
  const options = { database: config.clickhouseDatabase, batchSize: config.clickhouseSyncBatch, deletionLogDays: config.clickhouseDeletionLogDays };
  if (config.clickhouseUrl) {
    serverClient ??= clickhouseClientOf(config);
    return new ClickHouseTrainingEvents(dataSource, sharedClickHouse(serverClient), options);
  }
  return new ClickHouseTrainingEvents(dataSource, chdbPerRead(config.clickhouseTrainingPath), { ...options, ownCopy: true });
}

let serverClient: ClickHouseClient | undefined;
