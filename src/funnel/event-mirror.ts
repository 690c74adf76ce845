/**
 * An in-process, columnar copy of the `events` table, laid out for funnels: one typed array per
 * column, rows ordered by (user, timestamp, id), so each user's events are one contiguous stretch
 * that the engine scans front to back. PostgreSQL stays the system of record; the mirror is a cache
 * that catches up with it before every query (`sync`), so an event is visible to the next funnel
 * once its transaction has committed.
 *
 * What is loaded eagerly: id, user, type, item, timestamp. Sessions and property keys are loaded
 * the first time a funnel needs them (a filter, a breakdown, session counting), as dictionary codes
 * (code 0 = missing), so a filter is evaluated once per distinct value instead of once per event.
 *
 * Catching up, by snapshot rather than by id: ids are taken at insert, and a transaction may commit
 * long after one that took later ids, so "id > last seen id" misses rows. Each row records the
 * transaction that inserted it (`events.tx`, set by the column default; see migration
 * 1765100000000). Each catch-up reads in one REPEATABLE READ transaction and keeps its snapshot
 * (`pg_current_snapshot()`) as the read position; the next one reads the rows its own snapshot sees
 * whose transaction the stored one did not count as committed: `tx >= stored xmax OR tx IN (stored
 * in-flight list)`. That set is exact for any number, size and order of late commits, and the
 * lookup (index on tx) costs the rows of those transactions, not the table. The first load reads
 * every row, old rows with a NULL tx included. The position moves only after the rows are merged.
 * Assumes `events` is append-only; anything that deletes events must call `reset()`.
 */
import type { DataSource } from 'typeorm';
import { withPgClient } from '../db/data-source';
import { logger } from '../logger';
import { copyRows, copyRowsInSnapshot, CopyRow } from './copy-rows';
import { sharedFloat64, sharedInt32, sharedUint16 } from './shared-memory';

/** A dictionary-coded column: `codes[row]` indexes `values`; code 0 means "no value" (SQL NULL). */
export interface CodedColumn {
  codes: Int32Array;
  /** values[0] is undefined; JSON values (strings, numbers, booleans, null, arrays, objects) after it. */
  values: unknown[];
}

/** Item dense id → the shop's item id and its category (null when unknown). */
export interface ItemDictionary {
  externalIds: (string | null)[];
  categories: (string | null)[];
  /** Bumped whenever an entry changes, so copies held by funnel workers know when to refresh. */
  revision: number;
}

/** What a query needs beyond the eager columns. */
export interface MirrorNeeds {
  propertyKeys?: string[];
  sessions?: boolean;
  items?: boolean;
}

/** A consistent view of the mirror for one query (see `EventMirror.snapshot`). */
export interface MirrorSnapshot {
  version: number;
  size: number;
  ids: Float64Array;
  users: Int32Array;
  /** Microseconds since the epoch. */
  times: Float64Array;
  types: Uint16Array;
  /** Item dense id, -1 for none. */
  items: Int32Array;
  /** The events of user u are rows [userOffsets[u], userOffsets[u + 1]). */
  userOffsets: Int32Array;
  typeCodes: ReadonlyMap<string, number>;
  typeCount: number;
  properties: ReadonlyMap<string, CodedColumn>;
  sessions: CodedColumn | null;
  itemDictionary: ItemDictionary | null;
}

interface MutableCodedColumn extends CodedColumn {
  codeOfText: Map<string, number>;
}

/** Rows fetched from PostgreSQL before they are merged into the layout. */
class RowBatch {
  size = 0;
  ids = new Float64Array(1024);
  users = new Int32Array(1024);
  types = new Uint16Array(1024);
  items = new Int32Array(1024);
  times = new Float64Array(1024);
  /** Raw text per lazily loaded column, only for the (small) catch-up batches. */
  sessions: (string | null)[] = [];
  props: (string | null)[] = [];

  push(id: number, user: number, type: number, item: number, time: number): void {
    if (this.size === this.ids.length) this.grow();
    const n = this.size++;
    this.ids[n] = id;
    this.users[n] = user;
    this.types[n] = type;
    this.items[n] = item;
    this.times[n] = time;
  }

  private grow(): void {
    const capacity = this.ids.length * 2;
    const grown = <T extends Float64Array | Int32Array | Uint16Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    this.ids = grown(this.ids, (n) => new Float64Array(n));
    this.users = grown(this.users, (n) => new Int32Array(n));
    this.types = grown(this.types, (n) => new Uint16Array(n));
    this.items = grown(this.items, (n) => new Int32Array(n));
    this.times = grown(this.times, (n) => new Float64Array(n));
  }
}

/**
 * A PostgreSQL snapshot (`pg_snapshot`): transactions below `xmin` had finished; those in `inFlight`
 * (all in [xmin, xmax)) and those from `xmax` on had not. Ids stay decimal text: xid8 is 64-bit.
 */
interface ReadSnapshot {
  xmin: string;
  xmax: string;
  inFlight: string[];
}

/** Parses `pg_current_snapshot()::text` ("xmin:xmax:xip,xip,…"). */
export function parseSnapshot(text: string): ReadSnapshot {
  const match = /^(\d+):(\d+):((?:\d+(?:,\d+)*)?)$/.exec(text);
  if (!match) throw new Error(`Not a pg_snapshot: ${JSON.stringify(text)}`);
  return { xmin: match[1], xmax: match[2], inFlight: match[3] === '' ? [] : match[3].split(',') };
}

/**
 * SQL condition on `events` for "inserted by a transaction that `previous` did not count as
 * committed" (NOT pg_visible_in_snapshot(tx, previous), spelled so the index on tx serves it). Rows
 * with a NULL tx predate the column and were read by the first load.
 */
export function notVisibleIn(previous: ReadSnapshot): string {
  const later = `tx >= '${previous.xmax}'::xid8`;
  return previous.inFlight.length === 0 ? later : `(${later} OR tx = ANY('{${previous.inFlight.join(',')}}'::xid8[]))`;
}

export class EventMirror {
  // Rows in (user, ts, id) order; see MirrorSnapshot for what each column holds.
  // Columns live on SharedArrayBuffer (shared-memory.ts) so funnel workers read them without a copy.
  private size = 0;
  private ids: Float64Array = sharedFloat64(0);
  private users: Int32Array = sharedInt32(0);
  private times: Float64Array = sharedFloat64(0);
  private types: Uint16Array = sharedUint16(0);
  private items: Int32Array = sharedInt32(0);
  private userOffsets: Int32Array = sharedInt32(1);
  private typeNames: string[] = [];
  /** Bumped whenever rows change, so derived layouts (sessions) know when to rebuild. */
  private version = 0;
  private typeCodes = new Map<string, number>();
  /** Row position by event id, built when a column is loaded (null: stale). */
  private positionOfId: Int32Array | null = null;
  private propertyColumns = new Map<string, MutableCodedColumn>();
  private sessionColumn: MutableCodedColumn | null = null;
  private itemsById: ItemDictionary = { externalIds: [], categories: [], revision: 0 };
  private itemsSyncedUpTo: string | null = null;
  /** The read position: the snapshot of the last catch-up whose rows are merged (null: nothing read yet). */
  private readSnapshot: ReadSnapshot | null = null;
  /**
   * Bit per event id: mirrored. By design no catch-up reads a row twice; this makes that hold even
   * when `tx` lies (a dump restored into another cluster carries that cluster's transaction ids).
   */
  private mirroredIds = new Uint8Array(0);
  private maxMirroredId = 0;
  private warnedForeignTx = false;
  private queue: Promise<unknown> = Promise.resolve();
  /** A catch-up waiting for its turn in `queue`, which callers of `sync` arriving now may share. */
  private queuedCatchUp: Promise<void> | null = null;

  constructor(private readonly dataSource: DataSource) {}

  /**
   * Catch up with every event committed so far. Cheap when nothing is new (one indexed query).
   * Callers that arrive while a catch-up waits for its turn share it: it starts after all of them
   * called, so it sees what each of them must see, and 100 aliased funnels make one query, not 100.
   */
  sync(): Promise<void> {
    if (this.queuedCatchUp === null) {
      const catchUp = this.exclusive(async () => {
        this.queuedCatchUp = null; // from now on, newcomers need a catch-up of their own
        await this.catchUp();
      });
      this.queuedCatchUp = catchUp;
    }
    return this.queuedCatchUp;
  }

  /** Events mirrored so far. */
  get eventCount(): number {
    return this.size;
  }

  /** The lazily loaded columns held now: property keys (in load order) and whether sessions are. */
  get loadedColumns(): { propertyKeys: string[]; sessions: boolean } {
    return { propertyKeys: [...this.propertyColumns.keys()], sessions: this.sessionColumn !== null };
  }

  /** Drop everything; the next sync loads the table again. */
  reset(): Promise<void> {
    return this.exclusive(async () => {
      this.size = 0;
      this.ids = sharedFloat64(0);
      this.users = sharedInt32(0);
      this.times = sharedFloat64(0);
      this.types = sharedUint16(0);
      this.items = sharedInt32(0);
      this.userOffsets = sharedInt32(1);
      this.positionOfId = null;
      this.propertyColumns.clear();
      this.sessionColumn = null;
      this.itemsById = { externalIds: [], categories: [], revision: 0 };
      this.itemsSyncedUpTo = null;
      this.readSnapshot = null;
      this.mirroredIds = new Uint8Array(0);
      this.maxMirroredId = 0;
      this.version++;
    });
  }

  /**
   * Catch up with PostgreSQL, load the columns a query needs, and hand out a consistent view. Later
   * catch-ups replace arrays instead of changing them, so a view stays valid while a query runs.
   */
  async snapshot(needs: MirrorNeeds = {}): Promise<MirrorSnapshot> {
    await this.sync();
    return this.exclusive(async () => {
      const properties = new Map<string, CodedColumn>();
      for (const key of needs.propertyKeys ?? []) {
        let column = this.propertyColumns.get(key);
        if (!column) {
          column = await this.loadColumn(propertySource(key));
          this.propertyColumns.set(key, column);
        }
        properties.set(key, { codes: column.codes, values: column.values });
      }
      let sessions: CodedColumn | null = null;
      if (needs.sessions) {
        this.sessionColumn ??= await this.loadColumn(SESSION_SOURCE);
        sessions = { codes: this.sessionColumn.codes, values: this.sessionColumn.values };
      }
      return {
        version: this.version,
        size: this.size,
        ids: this.ids,
        users: this.users,
        times: this.times,
        types: this.types,
        items: this.items,
        userOffsets: this.userOffsets,
        typeCodes: this.typeCodes,
        typeCount: this.typeNames.length,
        properties,
        sessions,
        itemDictionary: needs.items ? await this.refreshItems() : null,
      };
    });
  }

  /** Item ids and categories from the catalog; after the first call only rows changed lately are read. */
  private async refreshItems(): Promise<ItemDictionary> {
    // updated_at is the writing transaction's start time, so re-read a margin that covers
    // transactions still open when we last looked.
    const since = this.itemsSyncedUpTo;
    const rows: { id: number; external_id: string; category: string | null; updated_at: string }[] = await this.dataSource.query(
      `SELECT id, external_id, category, updated_at::text AS updated_at FROM items
       ${since === null ? '' : `WHERE updated_at >= $1::timestamptz - interval '10 minutes'`}`,
      since === null ? [] : [since],
    );
    for (const row of rows) {
      if (this.itemsById.externalIds[row.id] !== row.external_id || this.itemsById.categories[row.id] !== row.category) this.itemsById.revision++;
      this.itemsById.externalIds[row.id] = row.external_id;
      this.itemsById.categories[row.id] = row.category;
      if (this.itemsSyncedUpTo === null || row.updated_at > this.itemsSyncedUpTo) this.itemsSyncedUpTo = row.updated_at;
    }
    return this.itemsById;
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async catchUp(): Promise<void> {
    const wantSessions = this.sessionColumn !== null;
    const wantProps = this.propertyColumns.size > 0;
    const previous = this.readSnapshot;
    const batch = new RowBatch();
    let repeated = 0;
    const { snapshot } = await withPgClient(this.dataSource, (client) =>
      copyRowsInSnapshot(
        client,
        `SELECT id, user_id, type, item_id, ts${wantSessions ? ', session_id' : ''}${wantProps ? ', props' : ''}
         FROM events${previous === null ? '' : ` WHERE ${notVisibleIn(previous)}`}`,
        (row) => {
          const id = row.number(0);
          if (this.isMirrored(id)) {
            repeated++;
            return;
          }
          batch.push(id, row.number(1), this.codeOfType(row.text(2)), row.isNull(3) ? -1 : row.number(3), row.microseconds(4));
          let field = 5;
          if (wantSessions) batch.sessions.push(row.isNull(field) ? null : row.text(field)), field++;
          if (wantProps) batch.props.push(row.isNull(field) ? null : row.text(field));
        },
      ),
    );
    if (repeated > 0 && !this.warnedForeignTx) {
      this.warnedForeignTx = true;
      logger().warn(
        { repeated },
        'events.tx holds transaction ids this cluster has not reached (restored from another cluster?); the funnel mirror skips the rows it re-reads, ' +
          'but re-reads them on every catch-up until then: clear them with UPDATE events SET tx = NULL WHERE tx >= pg_snapshot_xmax(pg_current_snapshot())',
      );
    }
    // The read position moves only once the rows are in: a catch-up that fails (the database went
    // away mid-COPY, which withPgClient turns into a rejection) leaves the mirror as it was, and the
    // next sync reads the same rows again.
    if (batch.size > 0) this.merge(batch);
    this.markMirrored(batch);
    this.readSnapshot = parseSnapshot(snapshot);
  }

  private isMirrored(id: number): boolean {
    const byte = Math.floor(id / 8);
    return byte < this.mirroredIds.length && (this.mirroredIds[byte] & (1 << id % 8)) !== 0;
  }

  private markMirrored(batch: RowBatch): void {
    let maxId = this.maxMirroredId;
    for (let i = 0; i < batch.size; i++) if (batch.ids[i] > maxId) maxId = batch.ids[i];
    const bytes = Math.floor(maxId / 8) + 1;
    if (bytes > this.mirroredIds.length) {
      const grown = new Uint8Array(Math.max(bytes, this.mirroredIds.length * 2));
      grown.set(this.mirroredIds);
      this.mirroredIds = grown;
    }
    for (let i = 0; i < batch.size; i++) {
      const id = batch.ids[i];
      this.mirroredIds[Math.floor(id / 8)] |= 1 << id % 8;
    }
    this.maxMirroredId = maxId;
  }

  private codeOfType(type: string): number {
    let code = this.typeCodes.get(type);
    if (code === undefined) {
      code = this.typeNames.length;
      if (code > 0xffff) throw new Error('More than 65,536 distinct event types; the mirror codes types in 16 bits.');
      this.typeNames.push(type);
      this.typeCodes.set(type, code);
    }
    return code;
  }

  /** New rows join the layout, which stays in (user, ts, id) order. */
  private merge(batch: RowBatch): void {
    if (this.size > 0 && batch.size * 8 < this.size) this.spliceIn(batch);
    else this.rebuild(batch);
    // Positions moved; the id → position index is only needed to load a new column, so rebuild it then.
    this.positionOfId = null;
    this.version++;
  }

  /** Codes of the lazily loaded columns for a batch row, parsed from the row's raw text. */
  private newRowCodes(batch: RowBatch): { column: MutableCodedColumn; codeOf: (b: number) => number }[] {
    const result: { column: MutableCodedColumn; codeOf: (b: number) => number }[] = [];
    const session = this.sessionColumn;
    if (session) {
      result.push({ column: session, codeOf: (b) => (batch.sessions[b] === null ? 0 : codeOf(session, batch.sessions[b]!, (text) => text)) });
    }
    for (const [key, column] of this.propertyColumns) {
      result.push({
        column,
        codeOf: (b) => {
          const props = batch.props[b];
          if (props === null) return 0;
          const value = (JSON.parse(props) as Record<string, unknown>)[key];
          return value === undefined ? 0 : codeOf(column, JSON.stringify(value), JSON.parse);
        },
      });
    }
    return result;
  }

  /**
   * Few new rows: each user's stretch is merged with its new rows and everything between is copied
   * in bulk, so the cost is a memory copy of the columns rather than a sort.
   */
  private spliceIn(batch: RowBatch): void {
    const oldSize = this.size;
    const total = oldSize + batch.size;
    const newRows = Array.from({ length: batch.size }, (_, b) => b).sort(
      (a, b) => batch.users[a] - batch.users[b] || batch.times[a] - batch.times[b] || batch.ids[a] - batch.ids[b],
    );
    const oldUserCount = this.userOffsets.length - 1;
    let maxUser = oldUserCount - 1;
    for (const b of newRows) if (batch.users[b] > maxUser) maxUser = batch.users[b];
    const oldStart = (user: number): number => (user < oldUserCount ? this.userOffsets[user] : oldSize);
    const added = new Int32Array(maxUser + 1);
    for (const b of newRows) added[batch.users[b]]++;
    const offsets = sharedInt32(maxUser + 2);
    let shift = 0;
    for (let user = 0; user <= maxUser; user++) {
      offsets[user] = oldStart(user) + shift;
      shift += added[user];
    }
    offsets[maxUser + 1] = total;

    // The plan: runs of old rows (destination, source, length) and single new rows (destination, batch row).
    const runs: number[] = [];
    const singles: number[] = [];
    let oldCursor = 0;
    let destination = 0;
    const copyOld = (until: number): void => {
      if (until <= oldCursor) return;
      runs.push(destination, oldCursor, until - oldCursor);
      destination += until - oldCursor;
      oldCursor = until;
    };
    for (const b of newRows) {
      const user = batch.users[b];
      copyOld(Math.max(oldCursor, oldStart(user)));
      const userEnd = oldStart(user + 1);
      const time = batch.times[b];
      const id = batch.ids[b];
      let o = oldCursor;
      while (o < userEnd && (this.times[o] < time || (this.times[o] === time && this.ids[o] < id))) o++;
      copyOld(o);
      singles.push(destination++, b);
    }
    copyOld(oldSize);

    const spliced = <T extends Float64Array | Int32Array | Uint16Array>(old: T, next: T, valueOf: (b: number) => number): T => {
      for (let r = 0; r < runs.length; r += 3) next.set(old.subarray(runs[r + 1], runs[r + 1] + runs[r + 2]), runs[r]);
      for (let i = 0; i < singles.length; i += 2) next[singles[i]] = valueOf(singles[i + 1]);
      return next;
    };
    for (const { column, codeOf: codeOfRow } of this.newRowCodes(batch)) column.codes = spliced(column.codes, sharedInt32(total), codeOfRow);
    this.ids = spliced(this.ids, sharedFloat64(total), (b) => batch.ids[b]);
    this.users = spliced(this.users, sharedInt32(total), (b) => batch.users[b]);
    this.times = spliced(this.times, sharedFloat64(total), (b) => batch.times[b]);
    this.types = spliced(this.types, sharedUint16(total), (b) => batch.types[b]);
    this.items = spliced(this.items, sharedInt32(total), (b) => batch.items[b]);
    this.userOffsets = offsets;
    this.size = total;
  }

  /** Many new rows (or the first load): stable counting sort by user, then each user's stretch by (ts, id). */
  private rebuild(batch: RowBatch): void {
    const oldSize = this.size;
    const total = oldSize + batch.size;
    let maxUser = this.userOffsets.length - 2;
    for (let i = 0; i < batch.size; i++) if (batch.users[i] > maxUser) maxUser = batch.users[i];
    // combined index c: c < oldSize is an existing row, else batch row c - oldSize.
    const userOf = (c: number): number => (c < oldSize ? this.users[c] : batch.users[c - oldSize]);
    const timeOf = (c: number): number => (c < oldSize ? this.times[c] : batch.times[c - oldSize]);
    const idOf = (c: number): number => (c < oldSize ? this.ids[c] : batch.ids[c - oldSize]);

    const offsets = sharedInt32(maxUser + 2);
    for (let c = 0; c < total; c++) offsets[userOf(c) + 1]++;
    for (let u = 0; u <= maxUser; u++) offsets[u + 1] += offsets[u];
    const order = new Int32Array(total);
    const cursor = offsets.slice(0, maxUser + 1);
    for (let c = 0; c < total; c++) order[cursor[userOf(c)]++] = c;

    for (let u = 0; u <= maxUser; u++) {
      const start = offsets[u];
      const end = offsets[u + 1];
      let sorted = true;
      for (let p = start + 1; p < end && sorted; p++) {
        const a = order[p - 1];
        const b = order[p];
        sorted = timeOf(a) < timeOf(b) || (timeOf(a) === timeOf(b) && idOf(a) < idOf(b));
      }
      if (sorted) continue;
      const stretch = Array.from(order.subarray(start, end));
      stretch.sort((a, b) => timeOf(a) - timeOf(b) || idOf(a) - idOf(b));
      order.set(stretch, start);
    }

    const gathered = <T extends Float64Array | Int32Array | Uint16Array>(old: T, next: T, valueOf: (b: number) => number): T => {
      for (let p = 0; p < total; p++) {
        const c = order[p];
        next[p] = c < oldSize ? old[c] : valueOf(c - oldSize);
      }
      return next;
    };
    for (const { column, codeOf: codeOfRow } of this.newRowCodes(batch)) column.codes = gathered(column.codes, sharedInt32(total), codeOfRow);
    this.ids = gathered(this.ids, sharedFloat64(total), (b) => batch.ids[b]);
    this.users = gathered(this.users, sharedInt32(total), (b) => batch.users[b]);
    this.times = gathered(this.times, sharedFloat64(total), (b) => batch.times[b]);
    this.types = gathered(this.types, sharedUint16(total), (b) => batch.types[b]);
    this.items = gathered(this.items, sharedInt32(total), (b) => batch.items[b]);
    this.userOffsets = offsets;
    this.size = total;
  }

  private positions(): Int32Array {
    if (this.positionOfId === null) {
      let maxId = 0;
      for (let p = 0; p < this.size; p++) if (this.ids[p] > maxId) maxId = this.ids[p];
      const positionOfId = new Int32Array(maxId + 1).fill(-1);
      for (let p = 0; p < this.size; p++) positionOfId[this.ids[p]] = p;
      this.positionOfId = positionOfId;
    }
    return this.positionOfId;
  }

  /**
   * Reads a lazily loaded column for every mirrored row (rows without a value get code 0). The first
   * use of a key reads the whole table, so `source.reads` COPYs each scan a share of its blocks (TID
   * range scans) on their own connections, and PostgreSQL's work runs on that many cores while this
   * thread decodes. Each COPY sees its own snapshot: rows committed after the last sync are not
   * mirrored yet and are skipped here; the next sync brings them with this column.
   */
  private async loadColumn(source: ColumnSource): Promise<MutableCodedColumn> {
    const column: MutableCodedColumn = { codes: sharedInt32(this.size), values: [undefined], codeOfText: new Map() };
    const positionOfId = this.positions();
    const codeOfRow = source.decoder(column);
    const [{ blocks }]: { blocks: string }[] = await this.dataSource.query(
      `SELECT pg_relation_size('events') / current_setting('block_size')::bigint AS blocks`,
    );
    const share = Math.ceil(Number(blocks) / source.reads);
    const ranges = Array.from({ length: source.reads }, (_, n) => {
      // The last range is open-ended: the table may have grown since its size was read.
      const from = n === 0 ? null : `ctid >= '(${n * share},0)'::tid`;
      const to = n === source.reads - 1 ? null : `ctid < '(${(n + 1) * share},0)'::tid`;
      return [source.present, from, to].filter((condition) => condition !== null).join(' AND ');
    });
    // One callback for every row (not a closure per row: sessions come as ten million rows).
    let code = 0;
    const assign = (id: number): void => {
      const position = id < positionOfId.length ? positionOfId[id] : -1;
      if (position >= 0) column.codes[position] = code;
    };
    await Promise.all(
      ranges.map((where) =>
        withPgClient(this.dataSource, (client) =>
          copyRows(client, source.query(where), (row: CopyRow) => {
            code = codeOfRow(row);
            row.eachInteger(source.idsField, assign);
          }),
        ),
      ),
    );
    return column;
  }
}

/** COPYs that read a property column on first use, side by side (one per core of a small server). */
const PARALLEL_READS = 2;

/** How a lazily loaded column is read: rows of value fields and the id (or ids) having that value. */
interface ColumnSource {
  /** Which events have a value. */
  present: string;
  /** COPYs side by side, each over a share of the table's blocks. */
  reads: number;
  /** The COPY query over the events matching `where`: value fields from 0, ids in `idsField` (int8 or int8[]). */
  query(where: string): string;
  idsField: number;
  /** Makes the decoder for one load: the code in `column` of a row's value. */
  decoder(column: MutableCodedColumn): (row: CopyRow) => number;
}

/**
 * Session ids: one row per event. Grouping by session in PostgreSQL (millions of groups) costs it
 * more than the rows cost here; and with a row per event this thread's decoding is the bottleneck,
 * so one COPY (two measured slower: docs/benchmarks.md).
 */
const SESSION_SOURCE: ColumnSource = {
  present: 'session_id IS NOT NULL',
  reads: 1,
  query: (where) => `SELECT session_id, id FROM events WHERE ${where}`,
  idsField: 1,
  decoder: (column) => (row) => codeOf(column, row.text(0), (text) => text),
};

/** JSON texts that might not be strings: numbers, true, false, arrays, objects (null comes as SQL NULL). */
const MAYBE_NOT_STRING = `('-','0','1','2','3','4','5','6','7','8','9','t','f','[','{')`;

/**
 * A property key's values, one row per event that has the key. `props -> key` would give each
 * value as JSON text, but building a jsonb per row and printing it cost PostgreSQL about as much
 * again as the whole scan; `props ->> key` is plain text. It loses the type only where a string
 * reads like another JSON value ("10", "true"), so the type is asked for just those rows. Codes are
 * keyed by JSON.stringify(value), like new rows' (newRowCodes). (One row per distinct value with
 * `array_agg(id)` sends far fewer rows, but a key with a value per event, such as
 * `recommendationId`, would make PostgreSQL hash millions of arrays.)
 */
function propertySource(key: string): ColumnSource {
  const text = `props ->> ${sqlLiteral(key)}`;
  const isString = `CASE WHEN left(${text}, 1) IN ${MAYBE_NOT_STRING} THEN jsonb_typeof(props -> ${sqlLiteral(key)}) = 'string' END`;
  return {
    present: `props ? ${sqlLiteral(key)}`,
    reads: PARALLEL_READS,
    // The key is there, so a NULL from ->> is a JSON null.
    query: (where) => `SELECT ${text}, ${isString}, id FROM events WHERE ${where}`,
    idsField: 2,
    decoder: (column) => {
      // Text as PostgreSQL prints it → code, per type, so a value is parsed once, not once per row.
      const codeOfString = new Map<string, number>();
      const codeOfOther = new Map<string, number>();
      return (row) => {
        if (row.isNull(0)) return codeOf(column, 'null', JSON.parse);
        const value = row.text(0);
        const string = row.isNull(1) || row.text(1) === 't';
        const codes = string ? codeOfString : codeOfOther;
        let code = codes.get(value);
        if (code === undefined) {
          code = codeOf(column, JSON.stringify(string ? value : JSON.parse(value)), JSON.parse);
          codes.set(value, code);
        }
        return code;
      };
    },
  };
}

function codeOf(column: MutableCodedColumn, text: string, parse: (text: string) => unknown): number {
  let code = column.codeOfText.get(text);
  if (code === undefined) {
    code = column.values.length;
    column.values.push(parse(text));
    column.codeOfText.set(text, code);
  }
  return code;
}

function sqlLiteral(text: string): string {
  if (text.includes('\u0000')) throw new RangeError('A property key cannot contain a NUL character.');
  return `'${text.replace(/'/g, "''")}'`;
}
