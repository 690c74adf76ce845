import type { DataSource } from 'typeorm';
import { decodeArtifact, tensorNamed } from '../ml/artifact';
import { logger } from '../logger';
import type { NeighbourList } from './item-similarity';
import { GruWeights, readGruWeights } from './session-gru';
import type { BlendWeights } from './blend.kind';
import type { SessionKnn } from './session-knn';
import { decodeSessionKnn } from './session-knn.kind';

/** Which trained version a list comes from. */
export interface VersionRef {
  id: number;
  kind: string;
  version: number;
}

export interface CatalogEntry {
  externalId: string;
  category: string | null;
  available: boolean;
  /** `properties.repeatable`: a consumable that may be recommended again after a purchase. */
  repeatable: boolean;
}

export interface RankedList {
  ids: Int32Array;
  scores: Float32Array;
}

export interface PopularityModel {
  version: VersionRef;
  overall: RankedList;
  byCategory: Map<string, RankedList>;
}

export interface ItemKnnModel {
  version: VersionRef;
  similar: Map<number, NeighbourList>;
  boughtTogether: Map<number, NeighbourList>;
  historyLength: number;
  recencyDecay: number;
  historyItemWeight: number;
}

export interface FactorModel {
  version: VersionRef;
  trainedTo: number;
  dimensions: number;
  userRow: Map<number, number>;
  itemRow: Map<number, number>;
  itemIds: Int32Array;
  userFactors: Float32Array;
  itemFactors: Float32Array;
  itemBias: Float32Array;
}

export interface SessionModel {
  version: VersionRef;
  weights: GruWeights;
  /** items.id → the model's vocabulary index (1…n; 0 is padding). */
  vocabulary: Map<number, number>;
  itemIds: Int32Array;
  maxLength: number;
}

/** The ACTIVE RECOMMENDATION_BLEND version: the fusion weights of `recommendations`' members per surface. */
export interface BlendModel {
  version: VersionRef;
  weights: BlendWeights;
  /** The ITEM_KNN and MATRIX_FACTORIZATION version ids the weights were learned with (by kind). */
  memberVersions: Record<string, number>;
}

/** The active SESSION_KNN version: its stored sessions and their item → sessions index (session-knn.ts). */
export interface SessionKnnModel {
  version: VersionRef;
  knn: SessionKnn;
}

/**
 * Everything serving reads, for one set of ACTIVE versions and one view of the catalogue. A request
 * takes the current snapshot once and uses only it, so a switch of versions is atomic per request.
 */
export interface ServingSnapshot {
  /** Counts up with every new snapshot of one ServingModels: the larger is the newer. */
  generation: number;
  activeKey: string;
  catalog: Map<number, CatalogEntry>;
  byExternalId: Map<string, number>;
  popularity: PopularityModel | null;
  /**
   * While no POPULARITY version is active (a new shop): items by their events in the last
   * RECENT_POPULAR_DAYS days of data, counted from `events` (refreshed every RECENT_POPULAR_REFRESH_MS),
   * most first; the catalogue fallback serves these before the rest of the catalogue in id order.
   * Null until counted, and whenever a POPULARITY version is active.
   */
  recentPopular: RankedList | null;
  itemKnn: ItemKnnModel | null;
  factors: FactorModel | null;
  /** SESSION_GRU's active version. */
  session: SessionModel | null;
  /** Learned fusion weights; null: every member weighs 1 (the live session SESSION_WEIGHT). */
  blend: BlendModel | null;
  sessionKnn: SessionKnnModel | null;
}

/** How often a request may trigger a background look for new ACTIVE versions and catalogue changes. */
export const REFRESH_INTERVAL_MS = 1000;

/** The window of recent events counted for `recentPopular`: the days before the latest event (not before now, so an imported past shop counts too). */
export const RECENT_POPULAR_DAYS = 7;
/** How often `recentPopular` is counted again while no POPULARITY version is active. */
export const RECENT_POPULAR_REFRESH_MS = 10 * 60_000;
/** Items kept in `recentPopular`. */
const RECENT_POPULAR_ITEMS = 500;

interface ActiveRow {
  id: number;
  kind: string;
  version: number;
  trained_to: Date;
}

function rankedFromRow(ids: number[], scores: number[]): RankedList {
  return { ids: Int32Array.from(ids), scores: Float32Array.from(scores) };
}

/**
 * The in-process cache of the ACTIVE versions' lists and of the catalogue. Invalidation: at most
 * once a second (REFRESH_INTERVAL_MS), a request starts a background check (one indexed query for
 * the ACTIVE version ids, one for catalogue rows changed since the last look). When an ACTIVE id
 * differs, that kind's data is loaded into a new snapshot and the snapshot reference is swapped
 * once everything is loaded, so requests never see half a version; unchanged kinds are reused.
 * Requests never wait for a refresh, except the very first one.
 */
export class ServingModels {
  private snapshot: ServingSnapshot | null = null;
  private loading: Promise<ServingSnapshot> | null = null;
  private lastCheck = 0;
  private catalogSince: Date | null = null;
  private catalogMaxId = 0;
  private recentCountedAt = 0;
  private recentCounting: Promise<void> | null = null;

  /** Set by `reloadFactors`: the next load reads the factor model again even when its version is unchanged. */
  private factorsChanged = false;

  constructor(private readonly dataSource: DataSource) {}

  /**
   * Reads the ACTIVE factor model's artifact again (an erasure rewrote it in place, under the same
   * version id) and swaps it in; resolves once the snapshot no longer holds the old user rows.
   * Nothing happens before the first request has loaded anything.
   */
  async reloadFactors(): Promise<void> {
    if (!this.snapshot && !this.loading) return;
    this.factorsChanged = true;
    await this.loading?.catch(() => undefined);
    await this.refresh();
  }

  /** The current snapshot; kicks off a background refresh when the last look is older than the interval. */
  async current(): Promise<ServingSnapshot> {
    if (!this.snapshot) {
      await this.refresh();
      // The first request of a process also waits for the count (one grouped query; a new shop is
      // small), so its list is not the catalogue in id order; later counts run in the background.
      if (!this.snapshot!.popularity) await this.countRecentPopular().catch((error: unknown) => logger().warn({ err: error }, 'counting recently popular items failed; the catalogue fallback is in catalogue order'));
      return this.snapshot!;
    }
    if (Date.now() - this.lastCheck > REFRESH_INTERVAL_MS && !this.loading) {
      this.refresh().catch((error: unknown) => logger().warn({ err: error }, 'refreshing the recommendation models failed; serving the previous ones'));
    }
    this.countRecentPopularIfDue();
    return this.snapshot;
  }

  /**
   * Counts `recentPopular` now (when no POPULARITY version is active) and swaps it into the current
   * snapshot; requests call this in the background every RECENT_POPULAR_REFRESH_MS. Tests call it to skip the wait.
   */
  countRecentPopular(): Promise<void> {
    this.recentCounting ??= (async () => {
      this.recentCountedAt = Date.now();
      const current = this.snapshot ?? (await this.refresh());
      if (current.popularity) return;
      const rows: { item_id: number; events: number }[] = await this.dataSource.query(
        `SELECT item_id, count(*)::float8 AS events FROM events
         WHERE item_id IS NOT NULL AND ts > (SELECT max(ts) FROM events) - make_interval(days => $1)
         GROUP BY item_id ORDER BY events DESC, item_id LIMIT $2`,
        [RECENT_POPULAR_DAYS, RECENT_POPULAR_ITEMS],
      );
      const latest = this.snapshot!;
      if (latest.popularity) return;
      this.snapshot = {
        ...latest,
        generation: latest.generation + 1,
        recentPopular: rankedFromRow(
          rows.map((row) => row.item_id),
          rows.map((row) => row.events),
        ),
      };
    })().finally(() => {
      this.recentCounting = null;
    });
    return this.recentCounting;
  }

  private countRecentPopularIfDue(): void {
    if (this.recentCounting || this.snapshot?.popularity || Date.now() - this.recentCountedAt < RECENT_POPULAR_REFRESH_MS) return;
    this.countRecentPopular().catch((error: unknown) => logger().warn({ err: error }, 'counting recently popular items failed; the catalogue fallback keeps its previous order'));
  }

  /** Looks for changes now and returns the snapshot that results (tests and benchmarks call it to skip the wait). */
  refresh(): Promise<ServingSnapshot> {
    this.loading ??= this.load().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async load(): Promise<ServingSnapshot> {
    this.lastCheck = Date.now();
    const previous = this.snapshot;
    // Kinds an admin switched off for serving (model_serving) are left out, as if none were active.
    const active: ActiveRow[] = await this.dataSource.query(
      `SELECT id, kind, version, trained_to FROM model_versions v
       WHERE status = 'ACTIVE' AND NOT EXISTS (SELECT 1 FROM model_serving s WHERE s.kind = v.kind AND NOT s.serving)
       ORDER BY kind`,
    );
    const activeKey = active.map((row) => `${row.kind}:${row.id}`).join(',');
    const catalogChanged = await this.loadCatalogChanges(previous);
    const factorsChanged = this.factorsChanged;
    this.factorsChanged = false;
    if (previous && previous.activeKey === activeKey && !catalogChanged && !factorsChanged) return previous;
    const ref = (row: ActiveRow): VersionRef => ({ id: row.id, kind: row.kind, version: row.version });
    const find = (kind: string) => active.find((row) => row.kind === kind);
    const reuse = <T extends { version: VersionRef }>(kept: T | null | undefined, row: ActiveRow | undefined) => (kept && row && kept.version.id === row.id ? kept : undefined);

    const popularityRow = find('POPULARITY');
    const knnRow = find('ITEM_KNN');
    const factorRow = find('MATRIX_FACTORIZATION');
    const sessionRow = find('SESSION_GRU');
    const blendRow = find('RECOMMENDATION_BLEND');
    const sessionKnnRow = find('SESSION_KNN');
    const next: ServingSnapshot = {
      generation: (previous?.generation ?? 0) + 1,
      activeKey,
      catalog: catalogChanged ?? previous!.catalog,
      byExternalId: previous?.byExternalId ?? new Map(),
      popularity: popularityRow ? reuse(previous?.popularity, popularityRow) ?? (await this.loadPopularity(ref(popularityRow))) : null,
      recentPopular: null,
      itemKnn: knnRow ? reuse(previous?.itemKnn, knnRow) ?? (await this.loadItemKnn(ref(knnRow))) : null,
      factors: factorRow ? (factorsChanged ? undefined : reuse(previous?.factors, factorRow)) ?? (await this.loadFactors(ref(factorRow), factorRow.trained_to)) : null,
      session: sessionRow ? reuse(previous?.session, sessionRow) ?? (await this.loadSession(ref(sessionRow))) : null,
      blend: blendRow ? reuse(previous?.blend, blendRow) ?? (await this.loadBlend(ref(blendRow))) : null,
      sessionKnn: sessionKnnRow ? reuse(previous?.sessionKnn, sessionKnnRow) ?? (await this.loadSessionKnn(ref(sessionKnnRow))) : null,
    };
    // Learned weights hold only for the member versions they were learned with: after another
    // ITEM_KNN or MATRIX_FACTORIZATION version is activated, or one is switched off, serving falls back
    // to its default weights until the blend is trained again.
    if (next.blend) {
      const serving: Record<string, number> = {};
      if (next.itemKnn) serving.ITEM_KNN = next.itemKnn.version.id;
      if (next.factors) serving.MATRIX_FACTORIZATION = next.factors.version.id;
      const learnedWith = next.blend.memberVersions;
      const same = Object.keys(serving).length === Object.keys(learnedWith).length && Object.entries(serving).every(([kind, id]) => learnedWith[kind] === id);
      if (!same) {
        if (!previous || previous.activeKey !== activeKey) logger().warn({ blend: next.blend.version.id, learnedWith, serving }, 'the blend was learned with other member versions; serving uses the default weights until RECOMMENDATION_BLEND is trained again');
        next.blend = null;
      }
    }
    if (catalogChanged) {
      const byExternalId = new Map<string, number>();
      for (const [id, entry] of catalogChanged) byExternalId.set(entry.externalId, id);
      next.byExternalId = byExternalId;
    }
    // A count swapped in while this load ran stays (unless a POPULARITY version now serves instead).
    next.recentPopular = next.popularity ? null : (this.snapshot?.recentPopular ?? null);
    this.snapshot = next;
    if (!previous || previous.activeKey !== activeKey) logger().info({ active: activeKey }, 'recommendation models loaded');
    return next;
  }

  /** A new catalogue map when rows changed since the last look (copy-on-write), else null. */
  private async loadCatalogChanges(previous: ServingSnapshot | null): Promise<Map<number, CatalogEntry> | null> {
    const since = this.catalogSince;
    // Rows whose transaction committed a little after a later one are caught by looking back 10 s.
    // Only a JSON true marks an item repeatable: a casting "maybe" to boolean would fail every list.
    const rows: { id: number; external_id: string; category: string | null; available: boolean; repeatable: boolean; updated_at: Date }[] = await this.dataSource.query(
      `SELECT id, external_id, category, available, coalesce(properties->'repeatable' = 'true'::jsonb, false) AS repeatable, updated_at
       FROM items WHERE $1::timestamptz IS NULL OR id > $2 OR updated_at > $1::timestamptz - interval '10 seconds'`,
      [since, this.catalogMaxId],
    );
    if (previous && rows.length === 0) return null;
    let changed = !previous;
    const catalog = new Map(previous?.catalog ?? []);
    for (const row of rows) {
      const entry = { externalId: row.external_id, category: row.category, available: row.available, repeatable: row.repeatable };
      const old = catalog.get(row.id);
      if (!old || old.category !== entry.category || old.available !== entry.available || old.repeatable !== entry.repeatable) {
        catalog.set(row.id, entry);
        changed = true;
      }
      if (row.id > this.catalogMaxId) this.catalogMaxId = row.id;
      if (!this.catalogSince || row.updated_at > this.catalogSince) this.catalogSince = row.updated_at;
    }
    return changed ? catalog : null;
  }

  private async loadPopularity(version: VersionRef): Promise<PopularityModel> {
    const rows: { category: string; item_ids: number[]; scores: number[] }[] = await this.dataSource.query(
      `SELECT category, item_ids, scores FROM popularity_scores WHERE model_version_id = $1`,
      [version.id],
    );
    const byCategory = new Map<string, RankedList>();
    let overall: RankedList = { ids: new Int32Array(0), scores: new Float32Array(0) };
    for (const row of rows) {
      const list = rankedFromRow(row.item_ids, row.scores);
      if (row.category === '') overall = list;
      else byCategory.set(row.category, list);
    }
    return { version, overall, byCategory };
  }

  private async loadItemKnn(version: VersionRef): Promise<ItemKnnModel> {
    const rows: { relation: string; item_id: number; neighbour_ids: number[]; scores: number[] }[] = await this.dataSource.query(
      `SELECT relation, item_id, neighbour_ids, scores FROM item_neighbours WHERE model_version_id = $1`,
      [version.id],
    );
    const [{ params }]: { params: Record<string, number> }[] = await this.dataSource.query(`SELECT params FROM model_versions WHERE id = $1`, [version.id]);
    const similar = new Map<number, NeighbourList>();
    const boughtTogether = new Map<number, NeighbourList>();
    for (const row of rows) {
      const list = rankedFromRow(row.neighbour_ids, row.scores);
      (row.relation === 'similar' ? similar : boughtTogether).set(row.item_id, list);
    }
    return { version, similar, boughtTogether, historyLength: params.historyLength ?? 20, recencyDecay: params.recencyDecay ?? 0.9, historyItemWeight: params.historyItemWeight ?? 1 };
  }

  private async artifactOf(id: number) {
    const [{ artifact }]: { artifact: Buffer }[] = await this.dataSource.query(`SELECT artifact FROM model_versions WHERE id = $1`, [id]);
    return decodeArtifact(artifact);
  }

  private async loadFactors(version: VersionRef, trainedTo: Date): Promise<FactorModel> {
    const artifact = await this.artifactOf(version.id);
    const userIds = tensorNamed(artifact, 'userIds').data;
    const itemIds = tensorNamed(artifact, 'itemIds').data as Int32Array;
    return {
      version,
      trainedTo: trainedTo.getTime(),
      dimensions: Number(artifact.header.dimensions),
      userRow: new Map(Array.from(userIds, (id, row) => [id, row])),
      itemRow: new Map(Array.from(itemIds, (id, row) => [id, row])),
      itemIds,
      userFactors: tensorNamed(artifact, 'userFactors').data as Float32Array,
      itemFactors: tensorNamed(artifact, 'itemFactors').data as Float32Array,
      itemBias: tensorNamed(artifact, 'itemBias').data as Float32Array,
    };
  }

  private async loadBlend(version: VersionRef): Promise<BlendModel> {
    const artifact = await this.artifactOf(version.id);
    return { version, weights: artifact.header.weights as BlendWeights, memberVersions: (artifact.header.memberVersions ?? {}) as Record<string, number> };
  }

  /**
   * The stored sessions (three int32 arrays) and the item → sessions index built from them: about
   * 8 bytes per stored item click plus a small object per item; one pass, tens of ms for a million clicks.
   */
  private async loadSessionKnn(version: VersionRef): Promise<SessionKnnModel> {
    const [{ artifact }]: { artifact: Buffer }[] = await this.dataSource.query(`SELECT artifact FROM model_versions WHERE id = $1`, [version.id]);
    return { version, knn: decodeSessionKnn(artifact) };
  }

  private async loadSession(version: VersionRef): Promise<SessionModel> {
    const artifact = await this.artifactOf(version.id);
    const itemIds = tensorNamed(artifact, 'itemIds').data as Int32Array;
    return {
      version,
      weights: readGruWeights(artifact),
      vocabulary: new Map(Array.from(itemIds, (id, n) => [id, n + 1])),
      itemIds,
      maxLength: Number(artifact.header.maxLength),
    };
  }
}
