/**
 * An in-process, columnar copy of the `events` table, laid out for funnels: one typed array per
 * column, rows ordered by (user, timestamp, id), so each user's events are one contiguous stretch
 * that the engine scans front to back. PostgreSQL stays the system of record; the mirror is a cache
 * that catches up with it before every query (`sync`), so an event is visible to the next funnel
 * once its transaction has committed.
 *
 * Storage is two segments (mirror-segment.ts): a large base, and a small delta holding the whole
 * history of every user with events newer than the base. A catch-up merges new rows into the delta
 * only, so it costs in proportion to what arrived (and the delta), not to the table; once the delta
 * outgrows a share of the base, a compaction folds it into a new base in the background, a slice
 * at a time between other work, and swaps it in. Segments are never changed once built, so a
 * snapshot taken before a catch-up or a compaction stays valid while a query reads it.
 *
 * Columns: id, user, type, item and timestamp as numbers; the session id and the whole `properties`
 * object as dictionary codes (code 0 = none), read with the rest in the same scan. A property key is
 * a column of its own, derived from the properties column the first time a funnel needs it (a
 * filter, a breakdown): each distinct properties object is parsed once, then a code per row is
 * looked up, so the first use of a key costs the distinct objects and an array pass, not a scan of
 * PostgreSQL (milliseconds instead of seconds at ten million events). A shop whose objects are
 * nearly all distinct (a per-event value such as an order id) would make that dictionary as large
 * as the events: past `FUNNELCAST_MIRROR_PROPS_LIMIT` distinct objects the mirror drops the
 * properties column and reads each key from PostgreSQL on its first use instead. Codes let a filter
 * be evaluated once per distinct value instead of once per event. Session ids are interned off the
 * JavaScript heap (session-dictionary.ts), straight from the COPY's bytes.
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
 * Assumes `events` is append-only; anything that deletes events must call `reset()` (erasure does,
 * through privacy/erasure-watch.ts).
 */
import type { DataSource } from 'typeorm';
import { withPgClient } from '../db/data-source';
import { logger } from '../logger';
import { copyRows, copyRowsInSnapshot, CopyRow } from './copy-rows';
import { ownValue } from '../own-property';
import { config } from '../config';
import { metrics, secondsSince } from '../metrics/metrics';
import {
  baseUserCount,
  compactionPlan,
  deltaMergePlan,
  emptySegment,
  gather,
  gatherSteps,
  RowSource,
  Segment,
  trimmedDelta,
} from './mirror-segment';
import { sharedFloat64, sharedInt32, sharedUint16 } from './shared-memory';
import { SessionDictionary, SessionNames } from './session-dictionary';

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

/**
 * One segment as a query sees it: rows in (user, ts, id) order. In the base, entry u of
 * `userOffsets` is user u; in the delta, entry i is user `userIds[i]`, and that user's events are
 * read from the delta only (it holds the user's whole history).
 */
export interface MirrorSegment {
  size: number;
  ids: Float64Array;
  users: Int32Array;
  /** Microseconds since the epoch. */
  times: Float64Array;
  types: Uint16Array;
  /** Item dense id, -1 for none. */
  items: Int32Array;
  /** Users with rows in this segment, ascending; null in the base (every user 0..userOffsets.length - 2). */
  userIds: Int32Array | null;
  /** The rows of the i-th user are [userOffsets[i], userOffsets[i + 1]). */
  userOffsets: Int32Array;
  /** The loaded columns the query asked for: this segment's codes, values shared with the other segment. */
  properties: ReadonlyMap<string, CodedColumn>;
  sessions: SessionColumn | null;
}

/** Session codes per row (0: none) and their names (session-dictionary.ts), all on shared memory. */
export interface SessionColumn {
  codes: Int32Array;
  names: SessionNames;
}

/** A consistent view of the mirror for one query (see `EventMirror.snapshot`). */
export interface MirrorSnapshot {
  /** Bumped whenever rows change. */
  version: number;
  /** Bumped whenever the base segment is replaced (layouts derived from the base are kept until then). */
  baseVersion: number;
  /** Events in the snapshot (base rows of users in the delta are counted once, in the delta). */
  eventCount: number;
  /** Dense user ids run from 0 to userCount - 1. */
  userCount: number;
  base: MirrorSegment;
  delta: MirrorSegment;
  typeCodes: ReadonlyMap<string, number>;
  typeCount: number;
  itemDictionary: ItemDictionary | null;
}

/** Values and codes-by-text of a lazily loaded column; each segment keeps its codes under this object. */
interface ColumnDictionary {
  values: unknown[];
  codeOfText: Map<string, number>;
}

export interface EventMirrorOptions {
  /**
   * Compact in the background once the delta holds this many rows (given the base's size).
   * Default: max(65,536, base / 32). `false`: only when `compact()` is called (tests).
   */
  compactAt?: ((baseSize: number) => number) | false;
  /**
   * Distinct properties objects kept as one column (default: FUNNELCAST_MIRROR_PROPS_LIMIT). Past
   * it the column is dropped and each property key is read from PostgreSQL on its first use.
   */
  propsLimit?: number;
}

/** Segment counts for benches and logs. */
export interface MirrorStats {
  baseRows: number;
  deltaRows: number;
  deltaUsers: number;
  compactions: number;
}

/** Rows fetched from PostgreSQL before they are merged into the layout. */
class RowBatch {
  size = 0;
  ids: Float64Array;
  users: Int32Array;
  types: Uint16Array;
  items: Int32Array;
  times: Float64Array;
  /** Codes in the mirror's session and properties dictionaries (0: none), assigned as rows are read. */
  sessions: Int32Array;
  props: Int32Array;
  /** Raw properties text, kept only while property-key columns are loaded (each row is parsed for them). */
  propsText: (string | null)[] = [];

  /** `capacity`: rows expected (the first load sizes it from the table's statistics, sparing the copies of growing). */
  constructor(capacity = 1024) {
    this.ids = new Float64Array(capacity);
    this.users = new Int32Array(capacity);
    this.types = new Uint16Array(capacity);
    this.items = new Int32Array(capacity);
    this.times = new Float64Array(capacity);
    this.sessions = new Int32Array(capacity);
    this.props = new Int32Array(capacity);
  }

  push(id: number, user: number, type: number, item: number, time: number, session: number, props: number): void {
    if (this.size === this.ids.length) this.grow();
    const n = this.size++;
    this.ids[n] = id;
    this.users[n] = user;
    this.types[n] = type;
    this.items[n] = item;
    this.times[n] = time;
    this.sessions[n] = session;
    this.props[n] = props;
  }

  private grow(): void {
    const capacity = Math.max(1024, this.ids.length * 2);
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
    this.sessions = grown(this.sessions, (n) => new Int32Array(n));
    this.props = grown(this.props, (n) => new Int32Array(n));
  }
}

/** A background compaction copies this many rows per turn of the event loop, then lets other work in. */
const COMPACTION_ROWS_PER_STEP = 500_000;

const defaultCompactAt = (baseSize: number): number => Math.max(65_536, Math.floor(baseSize / 32));

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
  // See mirror-segment.ts. Columns live on SharedArrayBuffer (shared-memory.ts) so funnel workers
  // read them without a copy; a segment's rows are replaced, never changed, so snapshots stay valid.
  private base: Segment = emptySegment('base');
  private delta: Segment = emptySegment('delta');
  private eventTotal = 0;
  private typeNames: string[] = [];
  /** Bumped whenever rows change. */
  private version = 0;
  /** Bumped whenever the base is replaced. */
  private baseVersion = 0;
  private typeCodes = new Map<string, number>();
  /** Base row by event id, built when a column is loaded (null: not built for this base). */
  private positionOfId: Int32Array | null = null;
  /** Property keys loaded so far, each a column of its own. */
  private propertyColumns = new Map<string, ColumnDictionary>();
  private sessions = new SessionDictionary();
  /** The key of the session codes in each segment's `codes` (the dictionary itself is off-heap). */
  private sessionKey: object = {};
  /** Whole properties objects (values are their JSON text as PostgreSQL prints jsonb); null once past propsLimit. */
  private propsColumn: ColumnDictionary | null = emptyDictionary();
  private readonly propsLimit: number;
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
  private readonly compactAt: ((baseSize: number) => number) | false;
  private compaction: Promise<void> | null = null;
  private compactions = 0;

  constructor(
    private readonly dataSource: DataSource,
    options: EventMirrorOptions = {},
  ) {
    this.compactAt = options.compactAt ?? defaultCompactAt;
    this.propsLimit = options.propsLimit ?? config().funnelMirrorPropsLimit;
    this.clear();
  }

  /** Empty segments holding (empty) codes of the session and properties columns. */
  private clear(): void {
    this.base = emptySegment('base');
    this.delta = emptySegment('delta');
    this.propertyColumns.clear();
    this.sessions = new SessionDictionary();
    this.sessionKey = {};
    this.propsColumn = emptyDictionary();
    for (const segment of [this.base, this.delta]) for (const column of this.loadedDictionaries()) segment.codes.set(column, sharedInt32(0));
  }

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
    return this.eventTotal;
  }

  get stats(): MirrorStats {
    return { baseRows: this.base.size, deltaRows: this.delta.size, deltaUsers: this.delta.userIds!.length, compactions: this.compactions };
  }

  /**
   * Property keys loaded so far (in load order), and whether the properties column is kept (false
   * once past propsLimit: a key's first use then reads it from PostgreSQL). Sessions are always loaded.
   */
  get loadedColumns(): { propertyKeys: string[]; propertiesColumn: boolean } {
    return { propertyKeys: [...this.propertyColumns.keys()], propertiesColumn: this.propsColumn !== null };
  }

  /** Drop everything; the next sync loads the table again. */
  reset(): Promise<void> {
    return this.exclusive(async () => {
      this.clear();
      this.eventTotal = 0;
      this.positionOfId = null;
      this.itemsById = { externalIds: [], categories: [], revision: 0 };
      this.itemsSyncedUpTo = null;
      this.readSnapshot = null;
      this.mirroredIds = new Uint8Array(0);
      this.maxMirroredId = 0;
      this.version++;
      this.baseVersion++;
    });
  }

  /**
   * Folds the delta into a new base now (after a compaction already under way, if any). The mirror
   * does this by itself in the background; this is for callers that want a known layout (tests,
   * benches). Like a background compaction, it gives way (leaving the delta) when a column is
   * loaded or the base rebuilt while it copies.
   */
  async compact(): Promise<void> {
    while (this.compaction) await this.compaction;
    if (this.delta.size > 0) await this.startCompaction();
  }

  /**
   * Catch up with PostgreSQL, load the columns a query needs, and hand out a consistent view. Later
   * catch-ups and compactions replace segments instead of changing them, so a view stays valid
   * while a query runs.
   */
  async snapshot(needs: MirrorNeeds = {}): Promise<MirrorSnapshot> {
    await this.sync();
    return this.exclusive(async () => {
      const properties: [string, ColumnDictionary][] = [];
      for (const key of needs.propertyKeys ?? []) {
        let column = this.propertyColumns.get(key);
        if (!column) {
          column = this.propsColumn ? this.deriveColumn(key, this.propsColumn) : await this.loadColumn(propertySource(key));
          this.propertyColumns.set(key, column);
        }
        properties.push([key, column]);
      }
      const sessions = needs.sessions ? { key: this.sessionKey, names: this.sessions.names() } : null;
      const { base, delta } = this;
      const deltaUsers = delta.userIds!;
      return {
        version: this.version,
        baseVersion: this.baseVersion,
        eventCount: this.eventTotal,
        userCount: Math.max(baseUserCount(base), deltaUsers.length > 0 ? deltaUsers[deltaUsers.length - 1] + 1 : 0),
        base: segmentView(base, properties, sessions),
        delta: segmentView(delta, properties, sessions),
        typeCodes: this.typeCodes,
        typeCount: this.typeNames.length,
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

  /** Times `catchUpUntimed` into funnelcast_funnel_mirror_catch_up_duration_seconds. */
  private async catchUp(): Promise<void> {
    const started = performance.now();
    await this.catchUpUntimed();
    metrics().mirrorCatchUpDuration.observe(secondsSince(started));
  }

  /**
   * Committed events not read yet (those the next catch-up reads), counted up to `cap` from the
   * index on tx; null before the first load (which reads everything).
   */
  async pendingEvents(cap: number): Promise<number | null> {
    const position = this.readSnapshot;
    if (position === null) return null;
    const [row]: { pending: number }[] = await this.dataSource.query(
      `SELECT count(*)::int AS pending FROM (SELECT 1 FROM events WHERE ${notVisibleIn(position)} LIMIT ${Math.floor(cap)}) AS unread`,
    );
    return row.pending;
  }

  private async catchUpUntimed(): Promise<void> {
    const keepText = this.propertyColumns.size > 0;
    const sessions = this.sessions;
    const props = this.propsColumn;
    // Past the limit, rows of this batch get no properties code; the column is dropped after the merge.
    let propsOverflow = false;
    const previous = this.readSnapshot;
    // The first load reads a hash per row instead of each object's text (see FirstLoadProps).
    const byHash = previous === null && props !== null ? new FirstLoadProps(props, this.propsLimit) : null;
    const batch = new RowBatch(previous === null ? await this.expectedRows() : undefined);
    let repeated = 0;
    const { snapshot } = await withPgClient(this.dataSource, (client) =>
      copyRowsInSnapshot(
        client,
        // The properties' text only when something reads it (PostgreSQL prints each jsonb it sends).
        `SELECT id, user_id, type, item_id, ts, session_id, ${byHash ? PROPS_HASH : keepText || props ? 'props::text' : 'NULL::text'}
         FROM events${previous === null ? '' : ` WHERE ${notVisibleIn(previous)}`}`,
        (row) => {
          const id = row.number(0);
          if (this.isMirrored(id)) {
            repeated++;
            return;
          }
          const session = row.isNull(5) ? 0 : sessions.intern(row.buffer, row.start(5), row.start(5) + row.length(5));
          let propsCode = 0;
          if (byHash) {
            byHash.hashes.push(row.isNull(6) ? NaN : row.number(6));
          } else if (!row.isNull(6) && (keepText || (props && !propsOverflow))) {
            const text = row.text(6);
            if (props && !propsOverflow) {
              propsCode = codeOf(props, text, asText);
              propsOverflow = props.values.length - 1 > this.propsLimit;
            }
            if (keepText) batch.propsText[batch.size] = text;
          }
          batch.push(id, row.number(1), this.codeOfType(row.text(2)), row.isNull(3) ? -1 : row.number(3), row.microseconds(4), session, propsCode);
        },
        byHash ? { ...byHash.dictionaryCopy(), connect: (work) => withPgClient(this.dataSource, work) } : undefined,
      ),
    );
    if (byHash) propsOverflow = !byHash.codeRows(batch);
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
    metrics().mirrorCaughtUpEvents.inc(batch.size);
    if (propsOverflow) this.dropPropsColumn();
    this.markMirrored(batch);
    this.readSnapshot = parseSnapshot(snapshot);
  }

  /** The table's row count as of its last ANALYZE (or an estimate), to size the first load's batch; 1024 when unknown. */
  private async expectedRows(): Promise<number> {
    const [row]: { rows: number | null }[] = await this.dataSource.query(`SELECT reltuples::float8 AS rows FROM pg_class WHERE oid = 'events'::regclass`);
    const rows = Number(row?.rows ?? 0);
    // A little over, for rows since; never so much that a stale estimate wastes memory.
    return rows > 0 && rows < 2 ** 30 ? Math.ceil(rows * 1.05) + 1024 : 1024;
  }

  /** The properties dictionary passed propsLimit: from now on each property key is read from PostgreSQL on its first use. */
  private dropPropsColumn(): void {
    const props = this.propsColumn;
    if (!props) return;
    logger().warn(
      { distinctObjects: props.values.length - 1, limit: this.propsLimit },
      'the funnel mirror holds more distinct event properties objects than FUNNELCAST_MIRROR_PROPS_LIMIT; it stops keeping them, ' +
        'so the first use of each property key reads it from PostgreSQL (seconds at millions of events) instead of deriving it in memory',
    );
    this.propsColumn = null;
    // Snapshots carry only the columns they asked for, so dropping these codes leaves them as they were.
    this.base.codes.delete(props);
    this.delta.codes.delete(props);
  }

  /**
   * A property key's column derived from the properties column: each distinct object is parsed
   * once and its value of `key` coded (codeOfKey, as for new rows), then every row's code is one lookup.
   */
  private deriveColumn(key: string, props: ColumnDictionary): ColumnDictionary {
    const column = emptyDictionary();
    const codeOfObject = new Int32Array(props.values.length);
    for (let c = 1; c < props.values.length; c++) codeOfObject[c] = codeOfKey(column, JSON.parse(props.values[c] as string), key);
    for (const segment of [this.base, this.delta]) {
      const objects = segment.codes.get(props)!;
      const codes = sharedInt32(segment.size);
      for (let p = 0; p < segment.size; p++) codes[p] = codeOfObject[objects[p]];
      // Adding a column leaves the rows as they are, so snapshots taken before (which do not list it) stay as they were.
      segment.codes.set(column, codes);
    }
    return column;
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

  /** The keys of the dictionary-coded columns in the segments, in a fixed order (sessions, the properties object, then keys as loaded). */
  private loadedDictionaries(): object[] {
    return [this.sessionKey, ...(this.propsColumn ? [this.propsColumn] : []), ...this.propertyColumns.values()];
  }

  /**
   * New rows join the delta, whose cost follows the delta and the batch. A batch that is large
   * beside the mirror (the first load, a bulk import) rebuilds the base instead, which then costs
   * no more than the batch itself.
   */
  private merge(batch: RowBatch): void {
    if (this.base.size === 0 || batch.size * 8 >= this.base.size + this.delta.size) {
      if (this.delta.size > 0) this.replaceBase(this.compacted(), this.delta);
      this.rebuild(batch);
    } else {
      this.mergeIntoDelta(batch);
    }
    this.eventTotal += batch.size;
    this.version++;
    this.compactIfDue();
  }

  /** The batch's rows as a merge source, with the codes of every dictionary-coded column. */
  private batchSource(batch: RowBatch): RowSource {
    const codes = new Map<object, Int32Array>();
    for (const { column, codeOf: codeOfRow } of this.newRowCodes(batch)) {
      const columnCodes = new Int32Array(batch.size);
      for (let b = 0; b < batch.size; b++) columnCodes[b] = codeOfRow(b);
      codes.set(column, columnCodes);
    }
    return { ids: batch.ids, users: batch.users, times: batch.times, types: batch.types, items: batch.items, codes };
  }

  private mergeIntoDelta(batch: RowBatch): void {
    const added = this.batchSource(batch);
    const { plan, userIds, userOffsets } = deltaMergePlan(this.base, this.delta, added, batch.size);
    // Sources in the order of OLD_DELTA, OLD_BASE, NEW_ROWS.
    this.delta = gather([this.delta, this.base, added], plan, this.loadedDictionaries(), { userIds, userOffsets });
  }

  /** Codes of the dictionary-coded columns for a batch row: sessions and properties as read, keys parsed from the raw text. */
  private newRowCodes(batch: RowBatch): { column: object; codeOf: (b: number) => number }[] {
    const result: { column: object; codeOf: (b: number) => number }[] = [{ column: this.sessionKey, codeOf: (b) => batch.sessions[b] }];
    if (this.propsColumn) result.push({ column: this.propsColumn, codeOf: (b) => batch.props[b] });
    // Each row's props are parsed once, however many property columns are loaded.
    const parsedProps: unknown[] = [];
    for (const [key, column] of this.propertyColumns) {
      result.push({
        column,
        codeOf: (b) => {
          const props = batch.propsText[b];
          return props === undefined || props === null ? 0 : codeOfKey(column, (parsedProps[b] ??= JSON.parse(props)), key);
        },
      });
    }
    return result;
  }

  private compactIfDue(): void {
    if (this.compactAt === false || this.compaction !== null || this.delta.size < this.compactAt(this.base.size)) return;
    void this.startCompaction().catch((error: unknown) => logger().warn({ err: error }, 'event mirror compaction failed; the delta stays and is retried later'));
  }

  /**
   * Builds the new base a slice at a time (other queries and catch-ups run between slices, reading
   * the old segments), then swaps it in, unless the base was replaced or a column was loaded
   * meanwhile (the next catch-up will try again).
   */
  private startCompaction(): Promise<void> {
    const pause = () => new Promise<void>((resolve) => setImmediate(resolve));
    const run = async (): Promise<void> => {
      await pause(); // not on the path of the catch-up that asked for it
      const { base, delta } = this;
      const columns = this.loadedDictionaries();
      const { plan, userOffsets } = compactionPlan(base, delta);
      const steps = gatherSteps([base, delta], plan, columns, { userIds: null, userOffsets }, COMPACTION_ROWS_PER_STEP);
      let next: Segment;
      for (;;) {
        await pause();
        const step = steps.next();
        if (step.done) {
          next = step.value;
          break;
        }
      }
      await this.exclusive(async () => {
        if (this.base !== base || this.loadedDictionaries().length !== columns.length) return;
        this.replaceBase(next, this.delta);
        this.compactions++;
        this.version++;
      });
    };
    const compaction = run().finally(() => {
      if (this.compaction === compaction) this.compaction = null;
    });
    this.compaction = compaction;
    return compaction;
  }

  /** Base and delta folded into one new base, in one go. */
  private compacted(): Segment {
    const { plan, userOffsets } = compactionPlan(this.base, this.delta);
    return gather([this.base, this.delta], plan, this.loadedDictionaries(), { userIds: null, userOffsets });
  }

  /** `next` becomes the base; users of `delta` that it now holds in full leave the delta. */
  private replaceBase(next: Segment, delta: Segment): void {
    this.delta = delta.size > 0 ? trimmedDelta(delta, next, this.loadedDictionaries()) : delta;
    this.base = next;
    this.positionOfId = null;
    this.baseVersion++;
  }

  /** Many new rows (or the first load; the delta is empty): stable counting sort by user, then each user's stretch by (ts, id). */
  private rebuild(batch: RowBatch): void {
    const old = this.base;
    const oldSize = old.size;
    const total = oldSize + batch.size;
    let maxUser = old.userOffsets.length - 2;
    for (let i = 0; i < batch.size; i++) if (batch.users[i] > maxUser) maxUser = batch.users[i];
    // combined index c: c < oldSize is an existing row, else batch row c - oldSize.
    const userOf = (c: number): number => (c < oldSize ? old.users[c] : batch.users[c - oldSize]);
    const timeOf = (c: number): number => (c < oldSize ? old.times[c] : batch.times[c - oldSize]);
    const idOf = (c: number): number => (c < oldSize ? old.ids[c] : batch.ids[c - oldSize]);

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

    const gathered = <T extends Float64Array | Int32Array | Uint16Array>(previous: T, next: T, valueOf: (b: number) => number): T => {
      for (let p = 0; p < total; p++) {
        const c = order[p];
        next[p] = c < oldSize ? previous[c] : valueOf(c - oldSize);
      }
      return next;
    };
    const codes = new Map<object, Int32Array>();
    for (const { column, codeOf: codeOfRow } of this.newRowCodes(batch)) codes.set(column, gathered(old.codes.get(column)!, sharedInt32(total), codeOfRow));
    this.base = {
      size: total,
      ids: gathered(old.ids, sharedFloat64(total), (b) => batch.ids[b]),
      users: gathered(old.users, sharedInt32(total), (b) => batch.users[b]),
      times: gathered(old.times, sharedFloat64(total), (b) => batch.times[b]),
      types: gathered(old.types, sharedUint16(total), (b) => batch.types[b]),
      items: gathered(old.items, sharedInt32(total), (b) => batch.items[b]),
      userIds: null,
      userOffsets: offsets,
      codes,
    };
    this.positionOfId = null;
    this.baseVersion++;
  }

  private positions(): Int32Array {
    if (this.positionOfId === null) {
      const base = this.base;
      let maxId = 0;
      for (let p = 0; p < base.size; p++) if (base.ids[p] > maxId) maxId = base.ids[p];
      const positionOfId = new Int32Array(maxId + 1).fill(-1);
      for (let p = 0; p < base.size; p++) positionOfId[base.ids[p]] = p;
      this.positionOfId = positionOfId;
    }
    return this.positionOfId;
  }

  /**
   * Reads a property key's column from PostgreSQL for every mirrored row, in both segments (rows
   * without a value get code 0): the first use of a key once the properties column is dropped
   * (past propsLimit). It reads the whole table, so `source.reads` COPYs each scan a share
   * of its blocks (TID range scans) on their own connections, and PostgreSQL's work runs on that many
   * cores while this thread decodes. Each COPY sees its own snapshot: rows committed after the last
   * sync are not mirrored yet and are skipped here; the next sync brings them with this column.
   */
  private async loadColumn(source: ColumnSource): Promise<ColumnDictionary> {
    const column = emptyDictionary();
    const { base, delta } = this;
    const baseCodes = sharedInt32(base.size);
    const deltaCodes = sharedInt32(delta.size);
    const positionOfId = this.positions();
    // The delta is small: a map is enough. Its rows include base rows of its users, which get both codes.
    const deltaPositionOfId = new Map<number, number>();
    for (let p = 0; p < delta.size; p++) deltaPositionOfId.set(delta.ids[p], p);
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
    // One callback for every row (not a closure per row: a key may come as ten million rows).
    let code = 0;
    const assign = (id: number): void => {
      const position = id < positionOfId.length ? positionOfId[id] : -1;
      if (position >= 0) baseCodes[position] = code;
      if (deltaPositionOfId.size > 0) {
        const deltaPosition = deltaPositionOfId.get(id);
        if (deltaPosition !== undefined) deltaCodes[deltaPosition] = code;
      }
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
    // Adding a column leaves the rows as they are, so snapshots taken before (which do not list it) stay as they were.
    base.codes.set(column, baseCodes);
    delta.codes.set(column, deltaCodes);
    return column;
  }
}

function segmentView(segment: Segment, properties: [string, ColumnDictionary][], sessions: { key: object; names: SessionNames } | null): MirrorSegment {
  const { size, ids, users, times, types, items, userIds, userOffsets, codes } = segment;
  return {
    size,
    ids,
    users,
    times,
    types,
    items,
    userIds,
    userOffsets,
    properties: new Map(properties.map(([key, column]) => [key, { codes: codes.get(column)!, values: column.values }])),
    sessions: sessions && { codes: codes.get(sessions.key)!, names: sessions.names },
  };
}


/** COPYs that read a property column on first use, side by side (one per core of a small server). */
const PARALLEL_READS = 2;

/**
 * A properties object's hash as PostgreSQL computes it from the stored jsonb, cut to its low 53 bits
 * so a double holds it exactly (null, true and false differ only in the lowest bits). Distinct
 * objects may still share one: FirstLoadProps checks.
 */
const PROPS_HASH = '(jsonb_hash_extended(props, 0) & 9007199254740991)';

/**
 * The first load's properties codes. Printing every row's jsonb as text costs PostgreSQL about as
 * much as the rest of the row, and coding ten million texts here costs more again; so the load reads
 * a hash per row, then, in the same snapshot, each distinct object once with its hash (GROUP BY,
 * at most limit + 1 of them), and codes rows by hash. Exact: two distinct objects whose hashes read
 * alike, or a row whose hash has no object, make the load give up the column (as past the limit).
 * jsonb equality is by value, so objects that differ only in how a number is written ("1.0", "1")
 * share one code; their keys' values are the same JSON values either way. (Exported for its spec.)
 */
export class FirstLoadProps {
  readonly hashes = new GrowableFloat64();
  private readonly codeOfHash = new Map<number, number>();
  private exact = true;

  /** `column`: the mirror's (empty) properties dictionary, filled from the distinct objects. */
  constructor(
    private readonly column: { values: unknown[]; codeOfText: Map<string, number> },
    private readonly limit: number,
  ) {}

  dictionaryCopy(): { sql: string; onRow: (row: CopyRow) => void } {
    return {
      sql: `SELECT props::text, ${PROPS_HASH} FROM events WHERE props IS NOT NULL GROUP BY props LIMIT ${this.limit + 1}`,
      onRow: (row) => {
        if (!this.exact) return;
        const code = codeOf(this.column, row.text(0), asText);
        const hash = row.number(1);
        const known = this.codeOfHash.get(hash);
        if ((known !== undefined && known !== code) || this.column.values.length - 1 > this.limit) this.exact = false;
        else this.codeOfHash.set(hash, code);
      },
    };
  }

  /** Sets each batch row's properties code; false when the column cannot be kept (past the limit, or hashes alike). */
  codeRows(batch: { size: number; props: Int32Array }): boolean {
    if (!this.exact) return false;
    for (let b = 0; b < batch.size; b++) {
      const hash = this.hashes.values[b];
      if (Number.isNaN(hash)) continue;
      const code = this.codeOfHash.get(hash);
      if (code === undefined) return false;
      batch.props[b] = code;
    }
    return true;
  }
}

class GrowableFloat64 {
  values = new Float64Array(1024);
  size = 0;

  push(value: number): void {
    if (this.size === this.values.length) {
      const grown = new Float64Array(this.size * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.size++] = value;
  }
}

function emptyDictionary(): ColumnDictionary {
  return { values: [undefined], codeOfText: new Map() };
}

const asText = (text: string): string => text;

/** How a column is read from PostgreSQL: rows of value fields and the id (or ids) having that value. */
interface ColumnSource {
  /** Which events have a value. */
  present: string;
  /** COPYs side by side, each over a share of the table's blocks. */
  reads: number;
  /** The COPY query over the events matching `where`: value fields from 0, ids in `idsField` (int8 or int8[]). */
  query(where: string): string;
  idsField: number;
  /** Makes the decoder for one load: the code in `column` of a row's value. */
  decoder(column: ColumnDictionary): (row: CopyRow) => number;
}

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

/**
 * The code in a property key's column of `key`'s value in a parsed properties object (0 when the
 * object has no such key of its own). Values are keyed by JSON.stringify, so "10" and 10 differ.
 * Both ways a key's codes are made (derived from the properties column, and for new rows) use this.
 */
function codeOfKey(column: ColumnDictionary, props: unknown, key: string): number {
  const value = ownValue(props, key);
  return value === undefined ? 0 : codeOf(column, JSON.stringify(value), JSON.parse);
}

function codeOf(column: ColumnDictionary, text: string, parse: (text: string) => unknown): number {
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
