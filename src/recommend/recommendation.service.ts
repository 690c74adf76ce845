import type { DataSource } from 'typeorm';
import { badInput, notFound } from '../graphql/errors';
import {
  BlendWeights,
  blendWeight,
  blendWeightsProblem,
  Candidate,
  DEFAULT_BLEND_WEIGHTS,
  ListBuilder,
  ListRules,
  Ranked,
  ServedCandidate,
  SourceList,
  fusedCandidates,
  selectTop,
} from './candidates';
import { HistoryItem, historyFromEvents, projectIntoFactors, rankFromNeighbours, scoreFromNeighbours } from './fold-in';
import { atLeast } from './dense-scratch';
import { newListId, RecommendationSigner, Recommender } from './recommendation-id';
import { RecommendationSigning } from './recommendation-secret';
import { gruLogits } from './session-gru';
import { ServedListCache, userFingerprint } from './served-list-cache';
import { readUserState, RECENT_EVENTS, UserState } from './user-state';
import { rankReengagement } from './reengagement';
import { RankedList, ServingModels, ServingSnapshot, VersionRef } from './serving-models';
import { MAX_ID_LENGTH } from '../graphql/input-rules';
import type { BlendMember } from './blend.kind';
import { MAX_CLOCK_SKEW_MS } from '../events/event-checks';

export const MAX_RECOMMENDATIONS = 100;
export const MAX_INPUT_ITEMS = 1000;
/** Lists kept by the served-list cache unless FUNNELCAST_RECOMMENDATION_CACHE_SIZE says otherwise (1–3 KB each). */
export const DEFAULT_CACHE_SIZE = 20_000;
/** Factor-space fold-in: ridge strength and recency decay of the projected history. */
const PROJECTION_REGULARIZATION = 0.5;
const PROJECTION_DECAY = 0.9;

export interface RecommendedItem {
  itemId: string;
  score: number;
  source: Recommender;
  modelVersionId: number | null;
  modelVersion: number | null;
  recommendationId: string;
}

export interface RecommendationList {
  listId: string;
  userId: string | null;
  /** The model version most of the list comes from; null when no model contributed. */
  modelVersionId: number | null;
  items: RecommendedItem[];
}

/** Which items the user already touched a `recommendations` list leaves out (besides excludeItemIds). */
export enum RecommendationExclusion {
  /** Every item of the user's recent events (the last RECENT_EVENTS), of the session, and every item they bought: discovery surfaces. */
  SEEN = 'SEEN',
  /** Items they bought, unless the catalogue marks them repeatable (the default). */
  PURCHASED = 'PURCHASED',
  /** Nothing: only excludeItemIds. */
  NONE = 'NONE',
}

export interface UserRecommendationRequest {
  userId: string;
  limit: number;
  category?: string | null;
  excludeItemIds?: readonly string[] | null;
  sessionItemIds?: readonly string[] | null;
  maxPerCategory?: number | null;
  /** Default PURCHASED. */
  exclude?: RecommendationExclusion | null;
  /** Read the user's state as of this instant (events at or before it; the live visit relative to it); default now. */
  asOf?: Date | null;
}

export interface ContinueShoppingRequest {
  userId: string;
  limit: number;
  category?: string | null;
  /** Read the user's events as of this instant (default: now). */
  asOf?: Date | null;
}

/**
 * Serves recommendations from the in-process snapshot of the ACTIVE versions: the personalised
 * recommenders blended (matrix factorisation, item neighbours, the session model, and re-engagement,
 * which needs no model), then the fallback chain (trending in the category, popular overall, any
 * available item) until the list is full.
 * Per request it reads one user's recent events (one indexed query); everything else is in memory.
 */
export class RecommendationService {
  readonly models: ServingModels;
  /** Users' lists reused while their events and the models are unchanged (see ServedListCache). */
  readonly cache: ServedListCache;
  /** Signs every served recommendation id (see recommendation-id.ts). */
  private readonly signing: RecommendationSigning;
  /** How much each recommender counts in `forUser`'s blend. */
  readonly blendWeights: BlendWeights;

  constructor(
    private readonly dataSource: DataSource,
    options: { cacheSize?: number; signing?: RecommendationSigning; blendWeights?: BlendWeights } = {},
  ) {
    this.models = new ServingModels(dataSource);
    this.signing = options.signing ?? new RecommendationSigning(dataSource, undefined);
    this.cache = new ServedListCache(options.cacheSize ?? DEFAULT_CACHE_SIZE);
    this.blendWeights = options.blendWeights ?? DEFAULT_BLEND_WEIGHTS;
    const problem = blendWeightsProblem(this.blendWeights);
    if (problem) throw new Error(problem);
  }

  /** After an erasure: forget every cached list and read the factor model's rewritten artifact (privacy/erasure-watch.ts). */
  /** Empties the served-list cache only (retention: lists may rest on events of removed months; models are untouched). */
  dropCachedLists(): void {
    this.cache.clear();
  }

  async dropUserData(): Promise<void> {
    this.cache.clear();
    await this.models.reloadFactors();
  }

  /**
   * A user's list: the recommenders blended by weighted reciprocal-rank fusion (weights from
   * `blendWeights`): matrix factorisation, item-neighbour fold-in, the session model and the items
   * the user already touched (REENGAGEMENT, unless `exclude` is SEEN), then the fallback chain.
   * `exclude` (default PURCHASED) says which touched items stay out. Bad arguments: BAD_USER_INPUT.
   */

  async forUser(request: UserRecommendationRequest): Promise<RecommendationList> {
    const { userId, limit } = request;
    const exclusion = request.exclude ?? RecommendationExclusion.PURCHASED;
    checkUserId(userId);
    checkLimit(limit);
    checkItemList('excludeItemIds', request.excludeItemIds);
    checkItemList('sessionItemIds', request.sessionItemIds);
    if (request.maxPerCategory != null && (!Number.isInteger(request.maxPerCategory) || request.maxPerCategory < 1)) {
      throw badInput(`maxPerCategory must be a whole number of at least 1 (got ${request.maxPerCategory})`);
    }
    const asOfMs = checkAsOf(request.asOf);
    const [snapshot, user, signer] = await Promise.all([this.models.current(), readUserState(this.dataSource, userId, asOfMs === null ? null : new Date(asOfMs)), this.signing.signer()]);
    // Touched items to come back to; with SEEN they are all left out, so there is nothing to propose.
    const reengagement = exclusion === RecommendationExclusion.SEEN ? null : reengagementFor(snapshot, user, exclusion === RecommendationExclusion.NONE, null);
    let cacheKey: string | null = null;
    let fingerprint: number[] | null = null;
    if (this.cache.capacity > 0) {
      cacheKey = JSON.stringify([userId, limit, request.category ?? null, request.maxPerCategory ?? null, request.excludeItemIds ?? null, request.sessionItemIds ?? null, exclusion, asOfMs]);
      fingerprint = userFingerprint(user.id, user.history, user.session, user.purchased, user.latestEventMs, reengagement, exclusion === RecommendationExclusion.SEEN ? user.recent.items : null);
      const served = this.cache.get(cacheKey, snapshot, fingerprint);
      if (served) return toList(snapshot, signer, served, userId);
    }
    const known = (ids: readonly string[] | null | undefined) => (ids ?? []).map((id) => snapshot.byExternalId.get(id)).filter((id): id is number => id !== undefined);
    const session = request.sessionItemIds ? known(request.sessionItemIds) : user.session;
    const excluded = new Set(known(request.excludeItemIds));
    if (exclusion === RecommendationExclusion.PURCHASED) {
      for (const item of user.purchased) if (!snapshot.catalog.get(item)?.repeatable) excluded.add(item);
    } else if (exclusion === RecommendationExclusion.SEEN) {
      for (const item of user.purchased) excluded.add(item);
      for (const item of user.recent.items) excluded.add(item);
      for (const item of session) excluded.add(item);
    }

    // The live session is the newest part of the history: it leads fold-in.
    const history = request.sessionItemIds ? mergeHistory(session.map((item) => ({ item, weight: 1 })).reverse(), user.history) : user.history;
    const depth = limit + excluded.size + 50;
    const lists: SourceList[] = [];
    // Fusion weights: those the ACTIVE RECOMMENDATION_BLEND learned on held-out users for this
    // surface (discovery when SEEN is excluded), else the service's blendWeights; a source weighted
    // 0 is left out (and not even scored).
    const learned = snapshot.blend?.weights[exclusion === RecommendationExclusion.SEEN ? 'discovery' : 'default'];
    const weightOf = (source: Recommender) => learned?.[source as BlendMember] ?? blendWeight(this.blendWeights, source);
    const add = (list: SourceList | null) => {
      if (list && weightOf(list.source) > 0) lists.push({ ...list, weight: weightOf(list.source) });
    };
    // The stored user vector encodes everything the model saw; read as of an earlier instant, or
    // with a client-named session, the user is projected from their history instead.
    const project = request.sessionItemIds != null || (asOfMs !== null && snapshot.factors !== null && asOfMs < snapshot.factors.trainedTo);
    if (weightOf(Recommender.MATRIX_FACTORIZATION) > 0) add(this.fromFactors(snapshot, user, history, project, depth));
    if (weightOf(Recommender.ITEM_KNN) > 0) add(this.fromNeighbours(snapshot, history, depth));
    // The session model proposes what comes next: the session's own items (which session-kNN ranks
    // first, every neighbour holding some of them) are re-engagement's to propose, not its.
    add(withoutItems(this.fromSessionModel(snapshot, session, depth), session));
    if (reengagement && reengagement.length > 0) add({ source: Recommender.REENGAGEMENT, version: null, ranked: reengagement, weight: 1 });

    const rules: ListRules = { excluded, category: request.category ?? null, maxPerCategory: request.maxPerCategory ?? null };
    const builder = new ListBuilder(snapshot.catalog, limit, rules);
    if (lists.length > 0) builder.addStage(fusedCandidates(lists));
    const browsing = request.category ?? categoryOf(snapshot, history[0]?.item);
    this.fallbacks(snapshot, builder, browsing);
    if (cacheKey !== null && fingerprint !== null) this.cache.set(cacheKey, snapshot, fingerprint, builder.served);
    return toList(snapshot, signer, builder.served, userId);
  }

  /**
   * "Continue shopping": the items the user already touched, ranked by rankReengagement (each
   * event's type weight halved every 72 hours before their newest event, summed per item), without
   * what they bought (unless repeatable) or unavailable items; only `category` when given. Source
   * REENGAGEMENT, no model version. No fallback: a user with no item events (or unknown) gets an
   * empty list, so a page can hide the shelf instead of showing items they never saw as "continue".
   * With `asOf`, the events as of that instant (at most a day ahead of now). Bad arguments: BAD_USER_INPUT.
   */
  async continueShopping(request: ContinueShoppingRequest): Promise<RecommendationList> {
    const { userId, limit } = request;
    checkUserId(userId);
    checkLimit(limit);
    const asOf = request.asOf ?? null;
    if (asOf && !(asOf.getTime() <= Date.now() + MAX_CLOCK_SKEW_MS)) {
      throw badInput(`asOf ${asOf.toISOString()} is more than a day after now; send an instant up to now (or leave asOf out for now)`);
    }
    const [snapshot, user, signer] = await Promise.all([this.models.current(), readUserState(this.dataSource, userId, asOf), this.signing.signer()]);
    const ranked = reengagementFor(snapshot, user, false, asOf);
    const builder = new ListBuilder(snapshot.catalog, limit, { excluded: new Set(), category: request.category ?? null, maxPerCategory: null });
    builder.addStage(fromRankedItems(ranked, Recommender.REENGAGEMENT, null));
    return toList(snapshot, signer, builder.served, userId);
  }

  async similarItems(itemId: string, limit: number): Promise<RecommendationList> {
    checkLimit(limit);
    const [snapshot, signer] = await Promise.all([this.models.current(), this.signing.signer()]);
    const item = this.requireItem(snapshot, itemId);
    const builder = new ListBuilder(snapshot.catalog, limit, { excluded: new Set([item]), category: null, maxPerCategory: null });
    const knn = snapshot.itemKnn;
    const neighbours = knn?.similar.get(item);
    if (knn && neighbours) builder.addStage(fromRanked(neighbours, Recommender.ITEM_KNN, knn.version));
    this.fallbacks(snapshot, builder, categoryOf(snapshot, item));
    return toList(snapshot, signer, builder.served, null);
  }

  /**
   * What to show next in a session the client names (item ids, oldest first): the session model
   * (SESSION_KNN, else SESSION_GRU) and item-neighbour fold-in, blended, then the fallback chain.
   * `asOf` is checked as `recommendations` checks it and changes nothing else: the session is given,
   * and the models are the active versions (session-kNN's time decay ranks alike from any instant).
   */
  async sessionRecommendations(itemIds: readonly string[], limit: number, asOf: Date | null = null): Promise<RecommendationList> {
    checkLimit(limit);
    checkItemList('itemIds', itemIds);
    checkAsOf(asOf);
    const [snapshot, signer] = await Promise.all([this.models.current(), this.signing.signer()]);
    const session = itemIds.map((id) => snapshot.byExternalId.get(id)).filter((id): id is number => id !== undefined);
    const depth = limit + session.length + 50;
    const lists: SourceList[] = [];
    // Weighted as in recommendations, by the service's blendWeights (the session model 1.5, item-kNN 1 by default).
    for (const list of [this.fromSessionModel(snapshot, session, depth), this.fromNeighbours(snapshot, historyFromEvents([...session].reverse(), session.map(() => 1), RECENT_EVENTS), depth)]) {
      if (list) lists.push({ ...list, weight: blendWeight(this.blendWeights, list.source) });
    }
    const builder = new ListBuilder(snapshot.catalog, limit, { excluded: new Set(session), category: null, maxPerCategory: null });
    if (lists.length > 0) builder.addStage(fusedCandidates(lists));
    this.fallbacks(snapshot, builder, categoryOf(snapshot, session[session.length - 1]));
    return toList(snapshot, signer, builder.served, null);
  }

  async cartComplements(itemIds: readonly string[], limit: number): Promise<RecommendationList> {
    checkLimit(limit);
    checkItemList('itemIds', itemIds);
    if (itemIds.length === 0) throw badInput('itemIds must name at least one item in the cart');
    const [snapshot, signer] = await Promise.all([this.models.current(), this.signing.signer()]);
    const cart = itemIds.map((id) => this.requireItem(snapshot, id));
    const builder = new ListBuilder(snapshot.catalog, limit, { excluded: new Set(cart), category: null, maxPerCategory: null });
    const knn = snapshot.itemKnn;
    if (knn) {
      const summed = (relation: Map<number, { ids: ArrayLike<number>; scores: ArrayLike<number> }>) => {
        const scores = scoreFromNeighbours(cart.map((item) => ({ item, weight: 1 })), (item) => relation.get(item), 1);
        return [...scores].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([item, score]): Candidate => ({ item, score, source: Recommender.ITEM_KNN, version: knn.version }));
      };
      builder.addStage(summed(knn.boughtTogether));
      builder.addStage(summed(knn.similar));
    }
    this.fallbacks(snapshot, builder, categoryOf(snapshot, cart[cart.length - 1]));
    return toList(snapshot, signer, builder.served, null);
  }

  private requireItem(snapshot: ServingSnapshot, itemId: string): number {
    const item = snapshot.byExternalId.get(itemId);
    if (item === undefined) throw notFound(`No item with id "${itemId}" in the catalogue (items appear after upsertItems or their first event).`);
    return item;
  }

  /**
   * Trending in the category being browsed, then popular overall (the active POPULARITY version);
   * without one, the items with the most events lately (ServingSnapshot.recentPopular), those of
   * the category first, then the catalogue's items of the category; then any available item in
   * catalogue order. All but the first two are source CATALOG: no model served them.
   */
  private fallbacks(snapshot: ServingSnapshot, builder: ListBuilder, category: string | null): void {
    if (builder.full) return;
    const popularity = snapshot.popularity;
    if (popularity) {
      const trending = category !== null ? popularity.byCategory.get(category) : undefined;
      if (trending) builder.addStage(fromRanked(trending, Recommender.POPULARITY, popularity.version));
      builder.addStage(fromRanked(popularity.overall, Recommender.POPULARITY, popularity.version));
    }
    const recent = snapshot.recentPopular;
    const inCategory = (item: number) => category !== null && snapshot.catalog.get(item)?.category === category;
    // Without a POPULARITY version, the category comes first here too: items like this one are
    // at least of its kind.
    if (!builder.full && recent && category !== null) builder.addStage(filtered(fromRanked(recent, Recommender.CATALOG, null), (candidate) => inCategory(candidate.item)));
    if (!builder.full && recent) builder.addStage(fromRanked(recent, Recommender.CATALOG, null));
    const catalogue = function* (): Generator<Candidate> {
      for (const item of snapshot.catalog.keys()) yield { item, score: 1, source: Recommender.CATALOG, version: null };
    };
    if (!builder.full && category !== null && !popularity) builder.addStage(filtered(catalogue(), (candidate) => inCategory(candidate.item)));
    if (!builder.full) builder.addStage(catalogue());
  }

  private fromFactors(snapshot: ServingSnapshot, user: UserState, history: HistoryItem[], project: boolean, depth: number): SourceList | null {
    const model = snapshot.factors;
    if (!model) return null;
    const d = model.dimensions;
    const row = user.id === null ? undefined : model.userRow.get(user.id);
    // One element type for the hot loop below: the user vector as float64 (float32 → float64 is exact).
    let u: Float64Array | null = null;
    // A user the model knows, with nothing new since it was trained, keeps the trained vector;
    // anyone else (new, active since, browsing a session the client names, or read as of a past instant) is projected from their recent items.
    if (row !== undefined && (user.latestEventMs === null || user.latestEventMs <= model.trainedTo) && !project) {
      u = scratch.userVector(d);
      for (let k = 0, at = row * d; k < d; k++) u[k] = model.userFactors[at + k];
    } else if (history.length > 0) {
      u = projectIntoFactors(history, (item) => model.itemRow.get(item), model.itemFactors, d, PROJECTION_REGULARIZATION, PROJECTION_DECAY);
    }
    if (!u) return null;
    const count = model.itemIds.length;
    const scores = scratch.factorScores(count);
    const { itemBias, itemFactors } = model;
    for (let item = 0, offset = 0; item < count; item++, offset += d) {
      let score = itemBias[item];
      for (let k = 0; k < d; k++) score += u[k] * itemFactors[offset + k];
      scores[item] = score;
    }
    const ranked = selectTop(scores, depth, 0, count);
    for (let n = 0; n < ranked.length; n++) ranked.items[n] = model.itemIds[ranked.items[n]];
    return { source: Recommender.MATRIX_FACTORIZATION, version: model.version, ranked, weight: 1 };
  }

  private fromNeighbours(snapshot: ServingSnapshot, history: HistoryItem[], depth: number): SourceList | null {
    const knn = snapshot.itemKnn;
    if (!knn || history.length === 0) return null;
    const ranked = rankFromNeighbours(history, knn.historyLength, (item) => knn.similar.get(item), knn.recencyDecay, knn.historyItemWeight, depth);
    if (ranked.length === 0) return null;
    return { source: Recommender.ITEM_KNN, version: knn.version, ranked, weight: 1 };
  }

  /**
   * The session model's next items: the active SESSION_KNN version when there is one (the default
   * session recommender), else the active SESSION_GRU; never both, so the session keeps one weight
   * in the blend. To serve the GRU while a SESSION_KNN version exists, retire that version.
   */
  private fromSessionModel(snapshot: ServingSnapshot, session: readonly number[], depth: number): SourceList | null {
    const knn = snapshot.sessionKnn;
    if (knn) {
      if (session.length === 0) return null;
      const scored = [...knn.knn.score(session)].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, depth);
      if (scored.length === 0) return null;
      const ranked = { items: scored.map(([item]) => item), scores: scored.map(([, score]) => score), length: scored.length };
      return { source: Recommender.SESSION_KNN, version: knn.version, ranked, weight: 1 };
    }
    const model = snapshot.session;
    if (!model || session.length === 0) return null;
    const sequence = session.map((item) => model.vocabulary.get(item) ?? 0).filter((token) => token > 0).slice(-model.maxLength);
    if (sequence.length === 0) return null;
    const logits = gruLogits(model.weights, sequence);
    // Index 0 is the padding token, never an item.
    const ranked = selectTop(logits, depth, 1);
    for (let n = 0; n < ranked.length; n++) ranked.items[n] = model.itemIds[ranked.items[n] - 1];
    return { source: Recommender.SESSION_GRU, version: model.version, ranked, weight: 1 };
  }
}

/**
 * Reused per-request arrays for factor scoring (allocating a typed array costs about 0.8 µs):
 * a request fills and reads them without awaiting in between.
 */
const scratch = {
  vector: new Float64Array(64),
  scores: new Float64Array(1024),
  userVector(length: number): Float64Array {
    return (this.vector = atLeast(this.vector, length));
  },
  factorScores(length: number): Float64Array {
    return (this.scores = atLeast(this.scores, length));
  },
};

/** The served list with recommendation ids; modelVersionId names the version most items came from. */
function toList(snapshot: ServingSnapshot, signer: RecommendationSigner, served: readonly ServedCandidate[], userId: string | null): RecommendationList {
  const listId = newListId();
  const ids = signer.signList(
    listId,
    userId,
    served.map((candidate) => ({ source: candidate.source, modelVersionId: candidate.version?.id ?? null, itemId: candidate.item })),
  );
  const versions = new Map<number, number>();
  for (const candidate of served) if (candidate.version) versions.set(candidate.version.id, (versions.get(candidate.version.id) ?? 0) + 1);
  const major = [...versions].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0];
  return {
    listId,
    userId,
    modelVersionId: major ? major[0] : null,
    items: served.map((candidate, n) => ({
      itemId: snapshot.catalog.get(candidate.item)!.externalId,
      score: candidate.listScore,
      source: candidate.source,
      modelVersionId: candidate.version?.id ?? null,
      modelVersion: candidate.version?.version ?? null,
      recommendationId: ids[n],
    })),
  };
}

/** The list without `items` (null stays null). */
function withoutItems(list: SourceList | null, items: readonly number[]): SourceList | null {
  if (!list || items.length === 0) return list;
  const drop = new Set(items);
  const ranked: Ranked = { items: [], scores: [], length: 0 };
  for (let n = 0; n < list.ranked.length; n++) {
    if (drop.has(list.ranked.items[n])) continue;
    ranked.items.push(list.ranked.items[n]);
    ranked.scores.push(list.ranked.scores[n]);
    ranked.length++;
  }
  return ranked.length > 0 ? { ...list, ranked } : null;
}

function* filtered(candidates: Iterable<Candidate>, keep: (candidate: Candidate) => boolean): Generator<Candidate> {
  for (const candidate of candidates) if (keep(candidate)) yield candidate;
}

function* fromRanked(list: RankedList, source: Recommender, version: VersionRef | null): Generator<Candidate> {
  for (let n = 0; n < list.ids.length; n++) yield { item: list.ids[n], score: list.scores[n], source, version };
}

function* fromRankedItems(ranked: Ranked, source: Recommender, version: VersionRef | null): Generator<Candidate> {
  for (let n = 0; n < ranked.length; n++) yield { item: ranked.items[n], score: ranked.scores[n], source, version };
}

/**
 * The user's re-engagement candidates (rankReengagement over their recent events) among available
 * items: without what they bought unless repeatable, or with it when `keepPurchased` (exclude NONE).
 */
function reengagementFor(snapshot: ServingSnapshot, user: UserState, keepPurchased: boolean, asOf: Date | null): Ranked {
  return rankReengagement(user.recent, {
    asOfMs: asOf?.getTime() ?? null,
    purchased: user.purchased,
    keepPurchased: keepPurchased ? () => true : (item) => snapshot.catalog.get(item)?.repeatable === true,
    available: (item) => snapshot.catalog.get(item)?.available === true,
  });
}

function categoryOf(snapshot: ServingSnapshot, item: number | undefined): string | null {
  return item === undefined ? null : (snapshot.catalog.get(item)?.category ?? null);
}

/** The session's items first (newest first), then the rest of the history without repeats. */
function mergeHistory(session: HistoryItem[], history: HistoryItem[]): HistoryItem[] {
  const seen = new Set(session.map((entry) => entry.item));
  return [...session, ...history.filter((entry) => !seen.has(entry.item))];
}

function checkUserId(userId: string): void {
  if (!userId.trim()) throw badInput('userId must not be empty');
  if (userId.length > MAX_ID_LENGTH) throw badInput(`userId must be at most ${MAX_ID_LENGTH} characters`);
}

/** `asOf` in epoch ms (null: now); BAD_USER_INPUT past the clock skew events may carry. */
function checkAsOf(asOf: Date | null | undefined): number | null {
  if (asOf == null) return null;
  const ms = asOf.getTime();
  if (!Number.isFinite(ms)) throw badInput('asOf must be an RFC 3339 date-time, e.g. 2026-01-14T18:30:00Z');
  if (ms > Date.now() + MAX_CLOCK_SKEW_MS) {
    throw badInput(`asOf ${asOf.toISOString()} is more than a day in the future; give a past instant, or leave asOf out for now`);
  }
  return ms;
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RECOMMENDATIONS) throw badInput(`limit must be a whole number from 1 to ${MAX_RECOMMENDATIONS} (got ${limit})`);
}

function checkItemList(name: string, ids: readonly string[] | null | undefined): void {
  if (ids && ids.length > MAX_INPUT_ITEMS) throw badInput(`${name} may list at most ${MAX_INPUT_ITEMS} items (got ${ids.length})`);
}
