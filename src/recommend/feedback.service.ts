import type { DataSource } from 'typeorm';
import { badInput, UserFacingError } from '../graphql/errors';
import { instantProblem, MAX_FEEDBACK_BATCH } from '../graphql/input-rules';
import type { Recommender } from './recommendation-id';
import type { RecommendationSigning } from './recommendation-secret';
import { pseudonymousId } from '../privacy/pseudonym';

/** Feedback may be sent a little ahead of the server clock, not more. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;

export type FeedbackType = 'IMPRESSION' | 'CLICK';

export interface FeedbackInput {
  recommendationId: string;
  type: FeedbackType;
  userId: string;
  timestamp?: Date | null;
}

export interface FeedbackResult {
  accepted: number;
  duplicates: number;
  rejected: { index: number; code: string; message: string }[];
}

export interface RecommenderPerformance {
  source: Recommender;
  modelVersionId: number | null;
  modelVersion: number | null;
  impressions: number;
  clicks: number;
  clickThroughRate: number | null;
  addToCarts: number;
  addToCartRate: number | null;
  conversions: number;
  conversionRate: number | null;
  revenue: number;
  itemsShown: number;
  catalogueCoverage: number;
}

export interface PerformanceReport {
  from: Date;
  to: Date;
  attributionWindowHours: number;
  recommenders: RecommenderPerformance[];
}

/** Shortest and longest attribution window of recommendationPerformance, in hours. */
export const MIN_ATTRIBUTION_HOURS = 0.01;
export const MAX_ATTRIBUTION_HOURS = 24 * 90;
/** A purchase event's own price when it is a JSON number; "free" or "12,50" must not fail the report. */
const EVENT_PRICE = `CASE WHEN jsonb_typeof(p.props->'price') = 'number' THEN (p.props->>'price')::numeric END`;

/**
 * The online side of the recommenders: impressions and clicks reported by clients (or events that
 * carry `properties.recommendationId`), carts and purchases attributed to a click on the same item
 * by the same user within the attribution window (last click wins), summed per recommender and version.
 */
export class RecommendationFeedbackService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly signing: RecommendationSigning,
  ) {}

  async record(feedback: FeedbackInput[]): Promise<FeedbackResult> {
    if (feedback.length > MAX_FEEDBACK_BATCH) {
      throw new UserFacingError('BATCH_TOO_LARGE', `At most ${MAX_FEEDBACK_BATCH} feedback entries per call; this one has ${feedback.length}.`);
    }
    const rejected: FeedbackResult['rejected'] = [];
    const rows: { id: string; type: string; source: string; version: number | null; item: number; user: string; ts: string }[] = [];
    const now = Date.now();
    const signer = await this.signing.signer();
    feedback.forEach((entry, index) => {
      if (!entry.userId.trim()) {
        rejected.push({ index, code: 'MISSING_USER', message: 'userId must not be empty' });
        return;
      }
      // Only ids this server issued, to this user (or on a list for nobody in particular), count.
      const ref = signer.verify(entry.recommendationId, entry.userId);
      if (!ref) {
        const shown = JSON.stringify(entry.recommendationId.slice(0, 80));
        rejected.push({
          index,
          code: 'UNKNOWN_RECOMMENDATION',
          message: `${shown} is not a recommendation id this server issued to user ${JSON.stringify(entry.userId.slice(0, 80))}; send the recommendationId of an item served to that user, with the userId the list was asked for.`,
        });
        return;
      }
      const ts = entry.timestamp ? entry.timestamp.getTime() : now;
      if (instantProblem(ts) !== null) {
        rejected.push({ index, code: 'BAD_TIMESTAMP', message: 'timestamp must lie between 1970 and 9999; send when the item was shown or clicked' });
        return;
      }
      if (ts > now + CLOCK_SKEW_MS) {
        rejected.push({ index, code: 'FUTURE_TIMESTAMP', message: 'timestamp lies in the future; send when the item was shown or clicked' });
        return;
      }
      rows.push({ id: entry.recommendationId, type: entry.type.toLowerCase(), source: ref.source, version: ref.modelVersionId, item: ref.itemId, user: pseudonymousId(entry.userId), ts: new Date(ts).toISOString() });
    });
    if (rows.length === 0) return { accepted: 0, duplicates: 0, rejected };
    const inserted: unknown[] = await this.dataSource.query(
      `INSERT INTO recommendation_feedback (recommendation_id, type, source, model_version_id, item_id, user_external_id, ts)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::text[], $7::timestamptz[])
       ON CONFLICT (recommendation_id, type) DO NOTHING
       RETURNING 1`,
      [rows.map((r) => r.id), rows.map((r) => r.type), rows.map((r) => r.source), rows.map((r) => r.version), rows.map((r) => r.item), rows.map((r) => r.user), rows.map((r) => r.ts)],
    );
    return { accepted: inserted.length, duplicates: rows.length - inserted.length, rejected };
  }

  async performance(from: Date, to: Date, attributionWindowHours: number): Promise<PerformanceReport> {
    if (!(from.getTime() < to.getTime())) throw badInput('`from` must be earlier than `to`');
    if (!(attributionWindowHours >= MIN_ATTRIBUTION_HOURS && attributionWindowHours <= MAX_ATTRIBUTION_HOURS)) {
      throw badInput(`attributionWindowHours must be from ${MIN_ATTRIBUTION_HOURS} to ${MAX_ATTRIBUTION_HOURS} (got ${attributionWindowHours})`);
    }
    const signed = await this.signedEventIds(from, to);
    const rows: {
      source: Recommender;
      model_version_id: number | null;
      version: number | null;
      impressions: number;
      clicks: number;
      carts: number;
      conversions: number;
      revenue: string;
      items: number;
      catalogue: number;
    }[] = await this.dataSource.query(
      `WITH signed_events AS (
         SELECT * FROM unnest($4::bigint[], $5::text[], $6::text[], $7::text[], $8::int[], $9::int[])
                AS s(event_id, rid, user_ext, source, model_version_id, item_id)
       ),
       feedback AS (
         SELECT recommendation_id AS rid, type, source, model_version_id, item_id, user_external_id AS user_ext, ts
         FROM recommendation_feedback WHERE ts >= $1 AND ts < $2 AND recommendation_id LIKE 'r2.%'
         UNION ALL
         SELECT s.rid, CASE e.type WHEN 'view' THEN 'click' ELSE e.type END, s.source, s.model_version_id, s.item_id, s.user_ext, e.ts
         FROM signed_events s JOIN events e ON e.id = s.event_id
       ),
       recs AS (
         SELECT rid, min(source) AS source, min(model_version_id) AS model_version_id, min(item_id) AS item_id, min(user_ext) AS user_ext,
                min(ts) FILTER (WHERE type = 'click') AS clicked_at, bool_or(type = 'cart') AS carted_directly
         FROM feedback GROUP BY rid
       ),
       clicked AS (
         SELECT r.*, u.id AS user_id FROM recs r JOIN users u ON u.external_id = r.user_ext WHERE r.clicked_at IS NOT NULL
       ),
       purchases AS (
         SELECT DISTINCT ON (event_id) event_id, rid, revenue FROM (
           SELECT p.id AS event_id, c.rid, coalesce(${EVENT_PRICE}, i.price, 0) AS revenue, 1 AS direct, c.clicked_at
           FROM signed_events s JOIN events p ON p.id = s.event_id JOIN items i ON i.id = p.item_id
           JOIN recs c ON c.rid = s.rid
           WHERE p.type = 'purchase'
           UNION ALL
           SELECT p.id, c.rid, coalesce(${EVENT_PRICE}, i.price, 0), 0, c.clicked_at
           FROM clicked c
           JOIN events p ON p.user_id = c.user_id AND p.item_id = c.item_id AND p.type = 'purchase'
                        AND p.ts >= c.clicked_at AND p.ts < c.clicked_at + make_interval(secs => $3 * 3600)
           JOIN items i ON i.id = p.item_id
         ) attributed
         ORDER BY event_id, direct DESC, clicked_at DESC
       ),
       carted AS (
         SELECT c.rid FROM clicked c
         WHERE EXISTS (SELECT 1 FROM events k WHERE k.user_id = c.user_id AND k.item_id = c.item_id AND k.type = 'cart'
                         AND k.ts >= c.clicked_at AND k.ts < c.clicked_at + make_interval(secs => $3 * 3600))
         UNION SELECT rid FROM recs WHERE carted_directly
       ),
       sold AS (SELECT rid, count(*) AS conversions, sum(revenue) AS revenue FROM purchases GROUP BY rid)
       SELECT r.source, r.model_version_id, v.version,
              count(*)::int AS impressions,
              count(r.clicked_at)::int AS clicks,
              count(k.rid)::int AS carts,
              coalesce(sum(s.conversions), 0)::int AS conversions,
              coalesce(sum(s.revenue), 0)::text AS revenue,
              count(DISTINCT r.item_id)::int AS items,
              (SELECT count(*)::int FROM items WHERE available) AS catalogue
       FROM recs r
       LEFT JOIN carted k ON k.rid = r.rid
       LEFT JOIN sold s ON s.rid = r.rid
       LEFT JOIN model_versions v ON v.id = r.model_version_id
       GROUP BY r.source, r.model_version_id, v.version
       ORDER BY r.source, r.model_version_id NULLS FIRST`,
      [from, to, attributionWindowHours, signed.eventIds, signed.rids, signed.users, signed.sources, signed.versions, signed.items],
    );
    const ratio = (a: number, b: number) => (b === 0 ? null : a / b);
    return {
      from,
      to,
      attributionWindowHours,
      recommenders: rows.map((row) => ({
        source: row.source,
        modelVersionId: row.model_version_id,
        modelVersion: row.version,
        impressions: row.impressions,
        clicks: row.clicks,
        clickThroughRate: ratio(row.clicks, row.impressions),
        addToCarts: row.carts,
        addToCartRate: ratio(row.carts, row.clicks),
        conversions: row.conversions,
        conversionRate: ratio(row.conversions, row.clicks),
        revenue: Number(row.revenue),
        itemsShown: row.items,
        catalogueCoverage: row.catalogue === 0 ? 0 : row.items / row.catalogue,
      })),
    };
  }

  /**
   * Events in [from, to) that carry a recommendationId this server issued to the event's user.
   * Verified here, not in SQL: forged, unsigned, altered or overflowing ids are left out, so they
   * neither count nor can break the report.
   */
  private async signedEventIds(from: Date, to: Date) {
    const rows: { id: string; rid: string; user_ext: string }[] = await this.dataSource.query(
      `SELECT e.id, e.props->>'recommendationId' AS rid, u.external_id AS user_ext
       FROM events e JOIN users u ON u.id = e.user_id
       WHERE e.props ? 'recommendationId' AND e.type IN ('view', 'cart', 'purchase') AND e.ts >= $1 AND e.ts < $2
         AND jsonb_typeof(e.props->'recommendationId') = 'string' AND e.props->>'recommendationId' LIKE 'r2.%'`,
      [from, to],
    );
    const signer = await this.signing.signer();
    const signed = { eventIds: [] as string[], rids: [] as string[], users: [] as string[], sources: [] as string[], versions: [] as (number | null)[], items: [] as number[] };
    for (const row of rows) {
      const ref = signer.verify(row.rid, row.user_ext);
      if (!ref) continue;
      signed.eventIds.push(row.id);
      signed.rids.push(row.rid);
      signed.users.push(row.user_ext);
      signed.sources.push(ref.source);
      signed.versions.push(ref.modelVersionId);
      signed.items.push(ref.itemId);
    }
    return signed;
  }
}
