import type { DataSource } from 'typeorm';
import { EVENT_TYPE_PATTERN, EVENT_TYPE_RULE } from '../events/event.types';
import { countedPage, countedPageSql } from '../db/counted-page';
import { LatestEventInstant } from '../events/latest-event';
import { checkFirst, connectionOf, connectionOfEdges, type Connection } from '../graphql/connection';
import { cursorCodec } from '../graphql/cursor';
import { badInput, notFound } from '../graphql/errors';
import { loadTf, type TfRuntime } from '../ml/tf-backend';
import { explainNextStep, explainPropensity, propensityContributions, SEQUENCE_GROUP, type Attribution } from './explain';
import { loadRecentEvents, loadRecentEventsOfUsers, loadSession } from './event-history';
import { SESSION_FEATURES, USER_FEATURES, sessionFeatures, userFeatures } from './features';
import { FUNNEL_STAGES, NEXT_ACTIONS, type FunnelStage } from './funnel-actions';
import { markovProbabilities, markovStateOf, type MarkovModel } from './markov';
import type { NextStepConfig } from './next-step-model';
import { decodeNextStepArtifact, decodePropensityArtifact, type PropensitySettings } from './prediction-artifact';
import { NextStepNetworkForward, servedPropensity, type ServedPropensity } from './serving-networks';
import { splitSessions, type PredictionEvent } from './session-events';
import { AT_RISK_PAGE } from './prediction.types';
import { UserFacingError } from '../graphql/errors';

/** An event of a visit the shop has not stored (yet), as the client sends it. */
export interface LiveEvent {
  type: string;
  timestamp: Date;
  itemId?: string | null;
  category?: string | null;
  price?: number | null;
  device?: string | null;
  channel?: string | null;
}

export interface ActionProbability {
  action: string;
  probability: number;
}

export interface NextStepPrediction {
  modelVersionId: number;
  events: number;
  likeliest: string;
  probabilities: ActionProbability[];
  /** The Markov baseline's distribution from the last event's funnel stage. */
  baseline: ActionProbability[];
  explanation: Attribution[];
}

export interface PropensityPrediction {
  modelVersionId: number;
  userId: string | null;
  propensity: number;
  /** For users: the horizon; for visits: null (the visit's end). */
  horizonHours: number | null;
  explanation: Attribution[];
  /** The batch score of the same version, when the user has one. */
  storedPropensity: number | null;
  storedAt: Date | null;
}

export interface AtRiskUser {
  userId: string;
  stage: string;
  reachedAt: Date;
  cartValue: number;
  propensity: number;
}

export interface AtRiskUsers extends Connection<AtRiskUser> {
  modelVersionId: number | null;
  totalCount: number;
}

export const MAX_LIVE_EVENTS = 500;
/**
 * `atRiskUsers` pages by open cart value (highest first), then dense user id; the cursor also
 * carries the instant the first page was read as of (epoch ms), which later pages keep.
 */
const atRiskCursor = cursorCodec('atRiskUsers', { asOf: 'int', cartValue: 'number', user: 'int' });
/** How far ahead of the server's clock a live event may be stamped (client clocks drift). */
const CLOCK_SKEW_MS = 5 * 60_000;
const HISTORY_EVENTS = 2000;
/** Funnel units explained between two yields to the event loop (explainFunnelUnits). */
const EXPLAIN_BATCH = 25;

/** A funnel unit to explain at its step event: its user (dense id), its session (null: the visit holding the step event), the step event's time in microseconds. */
export interface FunnelUnitAt {
  user: number;
  session: string | null;
  stepAt: number;
}

/** What a funnel model driver's contribution is (funnelDrivers' modelDrivers.method). */
export const FUNNEL_CONTRIBUTION_METHOD =
  "Occlusion (src/predict/explain.ts): the live-visit model's calibrated purchase propensity of the unit's visit up to and including its step event, with the user's history before the visit, minus the propensity with that feature group set to its training average (the sequence: with no events); in probability points, positive when the group raised it.";

/**
 * How long a looked-up ACTIVE version id is trusted before it is read again. Activation happens in
 * any process (an admin's mutation, a worker finishing a job), so each API process re-reads the id
 * at most this often: a newly activated version serves within a second, without a query per request.
 */
const ACTIVE_VERSION_RECHECK_MS = 1000;

type PredictionKind = 'NEXT_STEP' | 'PURCHASE_PROPENSITY';

interface ServedNextStep {
  config: NextStepConfig;
  markov: MarkovModel;
  forward: NextStepNetworkForward;
}

interface ServedPropensityVersion {
  settings: PropensitySettings;
  user: ServedPropensity;
  visit: ServedPropensity;
}

interface Served<T> {
  versionId: number;
  served: Promise<T>;
}

/**
 * Live predictions from the ACTIVE NEXT_STEP and PURCHASE_PROPENSITY versions, and the at-risk list
 * from the stored propensity scores. The active version's networks are decoded once, their weights
 * copied into the plain forward pass (serving-networks.ts) and the tfjs models disposed; the cache
 * is replaced when the active version id changes (re-read at most every ACTIVE_VERSION_RECHECK_MS).
 */
export class PredictionService {
  private readonly activeVersions = new Map<PredictionKind, { checkedAt: number; id: Promise<number> }>();
  private nextStepCache: Served<ServedNextStep> | null = null;
  private propensityCache: Served<ServedPropensityVersion> | null = null;

  /** The default `asOf`: the end of the stored events (events/latest-event.ts). */
  private readonly latestEvent: LatestEventInstant;

  constructor(private readonly dataSource: DataSource) {
    this.latestEvent = new LatestEventInstant(dataSource);
  }

  private tf(): Promise<TfRuntime> {
    return loadTf();
  }

  private activeVersion(kind: PredictionKind): Promise<number> {
    const known = this.activeVersions.get(kind);
    if (known && Date.now() - known.checkedAt < ACTIVE_VERSION_RECHECK_MS) return known.id;
    const id = (async () => {
      const rows: { id: number }[] = await this.dataSource.query(`SELECT id FROM model_versions WHERE kind = $1 AND status = 'ACTIVE'`, [kind]);
      if (rows.length === 0) throw notFound(`No ${kind} model is active yet; an admin trains one with trainModel(input: { kind: ${kind} }).`);
      return rows[0].id;
    })();
    this.activeVersions.set(kind, { checkedAt: Date.now(), id });
    // A missing version or a failed read is not remembered: the next request asks again.
    id.catch(() => {
      if (this.activeVersions.get(kind)?.id === id) this.activeVersions.delete(kind);
    });
    return id;
  }

  private async artifact(versionId: number): Promise<Buffer> {
    const rows: { artifact: Buffer | null }[] = await this.dataSource.query(`SELECT artifact FROM model_versions WHERE id = $1`, [versionId]);
    if (!rows[0]?.artifact) throw new Error(`model version ${versionId} has no artifact`);
    return rows[0].artifact;
  }

  /** The cached entry for `versionId`, or a new one loading it (a failed load is dropped, unless already replaced). */
  private cached<T>(current: () => Served<T> | null, versionId: number, load: () => Promise<T>, keep: (entry: Served<T> | null) => void): Served<T> {
    const known = current();
    if (known?.versionId === versionId) return known;
    const entry: Served<T> = { versionId, served: load() };
    entry.served.catch(() => {
      if (current() === entry) keep(null);
    });
    keep(entry);
    return entry;
  }

  private async nextStepModel(): Promise<{ versionId: number; served: ServedNextStep }> {
    const versionId = await this.activeVersion('NEXT_STEP');
    const entry = this.cached(() => this.nextStepCache, versionId, async () => {
      const { tf } = await this.tf();
      const loaded = decodeNextStepArtifact(tf, await this.artifact(versionId));
      try {
        return { config: loaded.config, markov: loaded.markov, forward: NextStepNetworkForward.of(loaded.model) };
      } finally {
        loaded.model.dispose();
      }
    }, (e) => (this.nextStepCache = e));
    return { versionId, served: await entry.served };
  }

  private async propensityModel(): Promise<{ versionId: number; served: ServedPropensityVersion }> {
    const versionId = await this.activeVersion('PURCHASE_PROPENSITY');
    const entry = this.cached(() => this.propensityCache, versionId, async () => {
      const { tf } = await this.tf();
      const loaded = decodePropensityArtifact(tf, await this.artifact(versionId));
      try {
        // A version trained before the hand features changed would read today's features in the
        // wrong slots: refuse it rather than serve numbers that mean nothing.
        const [user, visit] = [loaded.user.config.featureCount, loaded.visit.config.featureCount];
        if (user !== USER_FEATURES.length || visit !== SESSION_FEATURES.length) {
          throw notFound(
            `The ACTIVE PURCHASE_PROPENSITY version ${versionId} reads ${user} user and ${visit} visit features; this server computes ${USER_FEATURES.length} and ${SESSION_FEATURES.length}. Train a new version (trainModel with kind PURCHASE_PROPENSITY).`,
          );
        }
        return { settings: loaded.settings, user: servedPropensity(loaded.user), visit: servedPropensity(loaded.visit) };
      } finally {
        loaded.user.network.dispose();
        loaded.visit.network.dispose();
      }
    }, (e) => (this.propensityCache = e));
    return { versionId, served: await entry.served };
  }

  /** Live events checked: every violation is BAD_USER_INPUT before anything is read. */
  private checkLiveEvents(events: readonly LiveEvent[]): void {
    if (events.length === 0) throw badInput('events must hold at least one event of the visit.');
    if (events.length > MAX_LIVE_EVENTS) throw badInput(`events holds ${events.length} events; send at most the last ${MAX_LIVE_EVENTS} of the visit.`);
    const now = Date.now();
    events.forEach((event, index) => {
      if (!EVENT_TYPE_PATTERN.test(event.type)) throw badInput(`events[${index}].type "${event.type}" is not an event type: use view, cart, checkout, purchase, … (${EVENT_TYPE_RULE}).`, { index });
      const at = event.timestamp instanceof Date ? event.timestamp.getTime() : NaN;
      if (!Number.isFinite(at)) throw badInput(`events[${index}].timestamp is not a valid date-time.`, { index });
      if (at > now + CLOCK_SKEW_MS) throw badInput(`events[${index}].timestamp ${event.timestamp.toISOString()} lies in the future; send events that happened.`, { index });
      if (event.price !== null && event.price !== undefined && !(Number.isFinite(event.price) && event.price >= 0)) throw badInput(`events[${index}].price must be a number ≥ 0.`, { index });
    });
  }

  /** Checked live events ordered by time (ties keep the order sent) and completed from the catalog. */
  private async liveEvents(events: readonly LiveEvent[]): Promise<PredictionEvent[]> {
    const itemIds = [...new Set(events.map((e) => e.itemId).filter((id): id is string => typeof id === 'string' && id.length > 0))];
    const items = new Map<string, { category: string | null; price: number | null }>();
    if (itemIds.length > 0) {
      const rows: { external_id: string; category: string | null; price: string | null }[] = await this.dataSource.query(
        `SELECT external_id, category, price FROM items WHERE external_id = ANY($1)`,
        [itemIds],
      );
      for (const row of rows) items.set(row.external_id, { category: row.category, price: row.price === null ? null : Number(row.price) });
    }
    return events
      .map((event, index) => ({ event, index }))
      .sort((a, b) => a.event.timestamp.getTime() - b.event.timestamp.getTime() || a.index - b.index)
      .map(({ event }) => {
        const item = event.itemId ? items.get(event.itemId) : undefined;
        return {
          type: event.type,
          timestamp: event.timestamp.getTime(),
          sessionId: 'live',
          category: event.category ?? item?.category ?? null,
          price: event.price ?? item?.price ?? null,
          device: event.device ?? null,
          channel: event.channel ?? null,
        };
      });
  }

  /** Which of sessionId and events was given, checked (BAD_USER_INPUT) before anything is read. */
  private checkVisitInput(input: { sessionId?: string | null; events?: readonly LiveEvent[] | null }): { sessionId: string } | { events: readonly LiveEvent[] } {
    const hasSession = typeof input.sessionId === 'string';
    const hasEvents = Array.isArray(input.events);
    if (hasSession === hasEvents) throw badInput('Give either sessionId (a stored session) or events (a visit not stored yet), not both and not neither.');
    if (hasSession) {
      if (!input.sessionId!.trim()) throw badInput('sessionId must not be empty.');
      return { sessionId: input.sessionId! };
    }
    this.checkLiveEvents(input.events!);
    return { events: input.events! };
  }

  /** A stored session is one user's (a session is a (user, session id) pair); `user` names whose when several share the id. */
  private async visitOf(visit: { sessionId: string } | { events: readonly LiveEvent[] }, user: string | null = null): Promise<{ events: PredictionEvent[]; userId: number | null }> {
    if ('sessionId' in visit) {
      const session = await loadSession(this.dataSource, visit.sessionId, user);
      if (!session) {
        throw notFound(`No events are stored for session "${visit.sessionId}"${user === null ? '' : ` of user "${user}"`}; send its events instead.`);
      }
      if ('sharedBy' in session) {
        throw badInput(`Session id "${visit.sessionId}" is used by ${session.sharedBy} users, and a session is one user's; pass userId to say whose visit it is.`);
      }
      return session;
    }
    return { events: await this.liveEvents(visit.events), userId: null };
  }

  async predictNextStep(input: { sessionId?: string | null; events?: readonly LiveEvent[] | null; userId?: string | null }): Promise<NextStepPrediction> {
    const checked = this.checkVisitInput(input);
    const user = input.userId ?? null;
    if (user !== null && !user.trim()) throw badInput('userId must not be empty.');
    const [visit, { versionId, served: loaded }] = await Promise.all([this.visitOf(checked, 'sessionId' in checked ? user : null), this.nextStepModel()]);
    const { probabilities, explanation } = explainNextStep(loaded.forward, visit.events, loaded.config.window);
    const baseline = markovProbabilities(loaded.markov, markovStateOf(visit.events[visit.events.length - 1].type));
    let likeliest = 0;
    for (let a = 1; a < probabilities.length; a++) if (probabilities[a] > probabilities[likeliest]) likeliest = a;
    const named = (values: number[]) => NEXT_ACTIONS.map((action, a) => ({ action, probability: Math.round(values[a] * 1e6) / 1e6 }));
    return { modelVersionId: versionId, events: visit.events.length, likeliest: NEXT_ACTIONS[likeliest], probabilities: named(probabilities), baseline: named(baseline), explanation };
  }

  async purchasePropensity(userId: string, asOf: Date | null = null): Promise<PropensityPrediction> {
    if (!userId.trim()) throw badInput('userId must not be empty.');
    const cutoff = asOf ?? (await this.latestEvent.get());
    const [{ versionId, served: loaded }, user] = await Promise.all([this.propensityModel(), loadRecentEvents(this.dataSource, { externalId: userId }, cutoff, HISTORY_EVENTS)]);
    if (user === null) throw notFound(`No events are stored for user "${userId}".`);
    const storedRead: Promise<{ propensity: number; scored_at: Date }[]> = this.dataSource.query(
      `SELECT propensity, scored_at FROM purchase_propensity_scores WHERE model_version_id = $1 AND user_id = $2`,
      [versionId, user.userId],
    );
    storedRead.catch(() => undefined); // awaited below; must not count as unhandled meanwhile
    // The network runs while the batch score is read.
    const features = userFeatures(user.events, cutoff.getTime());
    const { propensity, explanation } = explainPropensity(loaded.user, user.events, features, USER_FEATURES);
    const stored = await storedRead;
    return {
      modelVersionId: versionId,
      userId,
      propensity,
      horizonHours: loaded.settings.horizonHours,
      explanation,
      storedPropensity: stored[0]?.propensity ?? null,
      storedAt: stored[0]?.scored_at ?? null,
    };
  }

  /** Chance that a live visit ends in a purchase, from the visit so far and (when known) the user's history before it. */
  async visitPurchasePropensity(input: { sessionId?: string | null; events?: readonly LiveEvent[] | null; userId?: string | null }): Promise<PropensityPrediction> {
    const checked = this.checkVisitInput(input);
    const namedUser = input.userId !== undefined && input.userId !== null;
    if (namedUser && !input.userId!.trim()) throw badInput('userId must not be empty.');
    const model = this.propensityModel();
    model.catch(() => undefined); // awaited below; must not count as unhandled meanwhile
    let visit: PredictionEvent[];
    let user: { userId: number; events: PredictionEvent[] } | null;
    if (namedUser && 'events' in checked) {
      // A live visit of a named user: the catalog and the user's history are read side by side.
      const start = new Date(Math.min(...checked.events.map((e) => e.timestamp.getTime())));
      [visit, user] = await Promise.all([this.liveEvents(checked.events), loadRecentEvents(this.dataSource, { externalId: input.userId! }, start, HISTORY_EVENTS)]);
    } else {
      const stored = await this.visitOf(checked, namedUser ? input.userId! : null);
      visit = stored.events;
      const start = new Date(visit[0].timestamp);
      if (namedUser) user = await loadRecentEvents(this.dataSource, { externalId: input.userId! }, start, HISTORY_EVENTS);
      else user = stored.userId === null ? null : await loadRecentEvents(this.dataSource, { id: stored.userId }, start, HISTORY_EVENTS);
    }
    const history = user?.events ?? [];
    const { versionId, served: loaded } = await model;
    const features = sessionFeatures(history, visit);
    const window = loaded.visit.forward.window;
    const sequence = history.length ? [...history.slice(-window), ...visit] : visit;
    const { propensity, explanation } = explainPropensity(loaded.visit, sequence, features, SESSION_FEATURES);
    return { modelVersionId: versionId, userId: input.userId ?? null, propensity, horizonHours: null, explanation, storedPropensity: null, storedAt: null };
  }

  /**
   * Per-unit explanations for funnelDrivers' model drivers (src/funnel/model-drivers.ts), by the
   * ACTIVE version's live-visit model: each unit is read as that model reads a live visit (as
   * `visitPurchasePropensity` does) at the unit's step event: the visit is the unit's session (or, when
   * counting users, the visit holding the step event) cut after the step event, so nothing that
   * happened later is read; the history is the user's latest HISTORY_EVENTS events before the visit.
   * Contributions are propensityContributions' (occlusion), every feature group. `{ reason }` when no
   * version is ACTIVE or it cannot be read here; a unit whose events are gone is left out. `check` runs
   * between batches of EXPLAIN_BATCH units (each batch then waits for the event loop's next turn).
   */
  async explainFunnelUnits(
    units: { droppedOff: readonly FunnelUnitAt[]; converted: readonly FunnelUnitAt[] },
    check: () => void,
  ): Promise<{ modelVersionId: number; method: string; features: string[]; droppedOff: { propensity: number; contributions: Float64Array }[]; converted: { propensity: number; contributions: Float64Array }[] } | { reason: string }> {
    let model: { versionId: number; served: ServedPropensityVersion };
    try {
      model = await this.propensityModel();
    } catch (error) {
      if (error instanceof UserFacingError && error.extensions.code === 'NOT_FOUND') return { reason: error.message };
      throw error;
    }
    const everyUnit = [...units.droppedOff, ...units.converted];
    const latest = everyUnit.reduce((max, unit) => Math.max(max, unit.stepAt), 0);
    // Up to the latest step event (inclusive: microseconds to the next millisecond); each unit cuts its own.
    const histories = everyUnit.length ? await loadRecentEventsOfUsers(this.dataSource, everyUnit.map((unit) => unit.user), new Date(Math.floor(latest / 1000) + 1), HISTORY_EVENTS) : new Map<number, PredictionEvent[]>();
    const served = model.served.visit;
    const features = [...new Set(SESSION_FEATURES.map((f) => f.group)), SEQUENCE_GROUP];
    const explain = async (side: readonly FunnelUnitAt[]) => {
      const explained: { propensity: number; contributions: Float64Array }[] = [];
      for (let start = 0; start < side.length; start += EXPLAIN_BATCH) {
        check();
        for (const unit of side.slice(start, start + EXPLAIN_BATCH)) {
          const visit = visitAtStep(histories.get(unit.user) ?? [], unit);
          if (!visit) continue;
          const window = served.forward.window;
          const sequence = visit.before.length ? [...visit.before.slice(-window), ...visit.events] : visit.events;
          const { propensity, contributions } = propensityContributions(served, sequence, sessionFeatures(visit.before, visit.events), SESSION_FEATURES);
          explained.push({ propensity, contributions: Float64Array.from(contributions, (c) => c.effect) });
        }
        await new Promise<void>((done) => setImmediate(done));
      }
      return explained;
    };
    const droppedOff = await explain(units.droppedOff);
    const converted = await explain(units.converted);
    return { modelVersionId: model.versionId, method: FUNNEL_CONTRIBUTION_METHOD, features, droppedOff, converted };
  }

  /**
   * Users whose furthest funnel stage in the last `withinDays` (before `asOf`) is at least `stage`
   * without a purchase since, whose open cart (items carted and neither removed nor bought since)
   * is worth at least `minValue`, and whose stored propensity is at most `maxPropensity`: a page
   * of at most `first` (1–200), most valuable carts first, then dense user id, after the cursor
   * `after`, with `totalCount` over every page. On the first page `asOf` defaults to now for a
   * live shop and to the end of its events for an idle one (events/latest-event.ts), on later
   * pages to the cursor's, so one walk reads one window. BAD_USER_INPUT for arguments out of range,
   * a cursor that is not this list's, or an `asOf` other than the cursor's.
   */
  async atRiskUsers(args: { stage: FunnelStage; minValue: number; maxPropensity: number; withinDays: number; first: number; after?: string | null; asOf?: Date | null }): Promise<AtRiskUsers> {
    const stageIndex = FUNNEL_STAGES.indexOf(args.stage);
    if (stageIndex < 0 || args.stage === 'purchase') throw badInput('stage must be VIEW, CART or CHECKOUT: users who bought are not at risk.');
    if (!(Number.isFinite(args.minValue) && args.minValue >= 0)) throw badInput('minValue must be a number ≥ 0.');
    if (!(args.maxPropensity >= 0 && args.maxPropensity <= 1)) throw badInput('maxPropensity must lie between 0 and 1.');
    if (!Number.isInteger(args.withinDays) || args.withinDays < 1 || args.withinDays > 365) throw badInput('withinDays must be a whole number from 1 to 365.');
    checkFirst(args.first, AT_RISK_PAGE);
    const cursor = atRiskCursor.decodeAfter(args.after);
    if (cursor && args.asOf && args.asOf.getTime() !== cursor.asOf) {
      throw badInput(
        `asOf is ${args.asOf.toISOString()} but the cursor's list was read as of ${new Date(cursor.asOf).toISOString()}; pass that asOf or leave asOf out to keep reading the same list.`,
      );
    }
    const asOf = new Date(cursor?.asOf ?? args.asOf?.getTime() ?? (await this.latestEvent.get()).getTime());
    const versions: { id: number }[] = await this.dataSource.query(`SELECT id FROM model_versions WHERE kind = 'PURCHASE_PROPENSITY' AND status = 'ACTIVE'`);
    if (versions.length === 0) return { modelVersionId: null, totalCount: 0, ...connectionOfEdges<AtRiskUser>([], false) };
    const stages = FUNNEL_STAGES.slice(stageIndex, 3);
    const answer: { total_count: number; user_id: number; external_id: string; stage: string; reached_at: Date; cart_value: number; propensity: number }[] = await this.dataSource.query(
      `WITH recent AS (
         SELECT e.user_id, e.item_id, e.type, e.ts,
                COALESCE(CASE WHEN jsonb_typeof(e.props->'price') = 'number' THEN (e.props->>'price')::numeric END, i.price, 0) AS price
         FROM events e LEFT JOIN items i ON i.id = e.item_id
         WHERE e.ts >= $2::timestamptz - make_interval(days => $3) AND e.ts < $2
           AND e.type IN ('view', 'cart', 'remove_from_cart', 'checkout', 'purchase')),
       last_purchase AS (SELECT user_id, max(ts) AS at FROM recent WHERE type = 'purchase' GROUP BY user_id),
       reached AS (
         SELECT r.user_id, max(r.ts) AS reached_at,
                (array_agg(r.type ORDER BY array_position($4::text[], r.type) DESC, r.ts DESC))[1] AS stage
         FROM recent r LEFT JOIN last_purchase p ON p.user_id = r.user_id
         WHERE r.type = ANY($4) AND (p.at IS NULL OR r.ts > p.at)
         GROUP BY r.user_id),
       item_state AS (
         SELECT user_id, item_id,
                max(ts) FILTER (WHERE type = 'cart') AS carted,
                max(ts) FILTER (WHERE type IN ('remove_from_cart', 'purchase')) AS closed,
                (array_agg(price ORDER BY ts DESC) FILTER (WHERE type = 'cart'))[1] AS price
         FROM recent WHERE item_id IS NOT NULL GROUP BY user_id, item_id),
       cart AS (
         SELECT user_id, sum(price) AS value FROM item_state
         WHERE carted IS NOT NULL AND (closed IS NULL OR carted > closed) GROUP BY user_id),
       at_risk AS (
         SELECT r.user_id, u.external_id, r.stage, r.reached_at, COALESCE(c.value, 0)::float8 AS cart_value, s.propensity
         FROM reached r
         JOIN purchase_propensity_scores s ON s.model_version_id = $1 AND s.user_id = r.user_id
         JOIN users u ON u.id = r.user_id
         LEFT JOIN cart c ON c.user_id = r.user_id
         WHERE s.propensity <= $5::real AND COALESCE(c.value, 0) >= $6)
       ${countedPageSql('at_risk', '$7::float8 IS NULL OR (cart_value, -user_id) < ($7::float8, -$8::int)', 'cart_value DESC, user_id', '$9')}`,
      [versions[0].id, asOf, args.withinDays, stages, args.maxPropensity, args.minValue, cursor?.cartValue ?? null, cursor?.user ?? null, args.first + 1],
    );
    const { rows, totalCount } = countedPage(answer, 'user_id');
    return {
      modelVersionId: versions[0].id,
      totalCount,
      ...connectionOf(
        atRiskCursor,
        rows,
        args.first,
        (row) => ({ asOf: asOf.getTime(), cartValue: row.cart_value, user: row.user_id }),
        (row) => ({ userId: row.external_id, stage: row.stage, reachedAt: row.reached_at, cartValue: row.cart_value, propensity: row.propensity }),
      ),
    };
  }
}

/**
 * The visit of a funnel unit up to and including its step event (at `unit.stepAt` µs), and the user's
 * events before that visit started; null when none of the user's events lies at or before it.
 */
export function visitAtStep(history: readonly PredictionEvent[], unit: FunnelUnitAt): { before: PredictionEvent[]; events: PredictionEvent[] } | null {
  let end = 0;
  // Timestamps are milliseconds read from microseconds (fractions kept): compare in whole microseconds.
  while (end < history.length && Math.round(history[end].timestamp * 1000) <= unit.stepAt) end++;
  if (end === 0) return null;
  const upToStep = history.slice(0, end);
  const sessions = splitSessions(upToStep);
  const last = upToStep[end - 1];
  const visit = (unit.session !== null ? sessions.find((session) => session.sessionId === unit.session) : undefined) ?? sessions.find((session) => session.events.includes(last))!;
  const start = visit.events[0].timestamp;
  return { before: upToStep.filter((event) => event.timestamp < start), events: visit.events };
}
