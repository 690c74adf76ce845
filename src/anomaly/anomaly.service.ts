import type { DataSource } from 'typeorm';
import { countedPage, countedPageSql } from '../db/counted-page';
import { checkFirst, connectionOf } from '../graphql/connection';
import { cursorCodec, instantKeySql } from '../graphql/cursor';
import { badInput, notFound } from '../graphql/errors';
import { logger } from '../logger';
import { DEFAULT_DETECTOR_WEIGHTS, DETECTORS, type Detector, type DetectorWeights } from './ensemble';
import { DAY_ENSEMBLE_SQL, ensembleParams, flaggedUsersParams, flaggedUsersSql, KIND_OF, loadFlaggedUserIds } from './flagged-users';
import {
  ANOMALY_PAGE,
  FlaggedTraffic,
  USER_LABEL_PAGE,
  UserLabel,
  UserLabelConnection,
  UserLabelKind,
  UserRisk,
  UserRiskConnection,
  type AnomalyDay,
  type AnomalyFinding,
  type DetectorContribution,
} from './anomaly.types';
import { pseudonymousId } from '../privacy/pseudonym';

export interface AnomalyOptions {
  /** Ensemble score from which a user counts as anomalous. */
  threshold: number;
  weights?: DetectorWeights;
  /** Written into the ingest guard's settings row at start; 0 turns the guard off. */
  ingestGuardEventsPerMinute: number;
}

const DETECTOR_OF = new Map<string, Detector>(DETECTORS.map((d) => [KIND_OF[d], d]));
/** `anomalies` pages by worst-day score (highest first), then dense user id. */
const anomalyCursor = cursorCodec('anomalies', { score: 'number', user: 'int' });
/** `userLabels` pages by label time to the microsecond (newest first), then dense user id. */
const userLabelCursor = cursorCodec('userLabels', { labelledAt: 'instant', user: 'int' });

function checkScore(name: string, value: number): void {
  if (!(value >= 0 && value <= 1)) throw badInput(`\`${name}\` must lie in [0, 1] (got ${value}).`);
}

/** A day [day, day + 1) counts for a range [from, to) when the two overlap; with midnight bounds, the days inside. */
const DAY_IN_RANGE = (day: string, from: string, to: string) =>
  `(${day}::timestamp AT TIME ZONE 'UTC') < ${to} AND ((${day} + 1)::timestamp AT TIME ZONE 'UTC') > ${from}`;

/**
 * Reads what the anomaly detectors wrote, combines it into one score per user and day (a user
 * over a range scores their worst day in it), keeps the admin's labels, and tells every other
 * feature which users to leave out.
 */
export class AnomalyService {
  readonly weights: DetectorWeights;
  /** Resolves once the ingest guard runs with the configured limit. */
  readonly guardReady: Promise<void>;

  constructor(
    private readonly dataSource: DataSource,
    readonly options: AnomalyOptions,
  ) {
    this.weights = options.weights ?? DEFAULT_DETECTOR_WEIGHTS;
    this.guardReady = this.applyGuardLimit(options.ingestGuardEventsPerMinute).catch((error: unknown) => {
      logger().error({ err: error }, 'could not apply the ingest guard limit; the stored one stays in force');
    });
  }

  async applyGuardLimit(eventsPerMinute: number): Promise<void> {
    await this.dataSource.query(`UPDATE ingest_guard SET max_events_per_minute = $1`, [eventsPerMinute]);
  }

  /** The anomalous users as SQL, for queries that embed them (see flagged-users.ts). */
  flaggedUsersSql(firstParameter = 1): string {
    return flaggedUsersSql(firstParameter);
  }

  flaggedUsersParams(threshold = this.options.threshold): [string[], number[], number] {
    return flaggedUsersParams(threshold, this.weights);
  }

  /** Dense ids of the anomalous users (for training data and funnels that filter in memory). */
  flaggedUserIds(threshold = this.options.threshold): Promise<Set<number>> {
    checkScore('threshold', threshold);
    return loadFlaggedUserIds(this.dataSource, threshold, this.weights);
  }

  /**
   * Users flagged in [from, to): their worst day overlapping the range scores at least `minScore`
   * (default the configured threshold), or the ingest guard marked them and they have events in
   * the range. A page of at most `first` (1–500), highest score first, then dense user id, after
   * the cursor `after`; `totalCount` counts them all. BAD_USER_INPUT for a backwards range, a
   * score outside [0, 1], `first` out of range or a cursor that is not this list's.
   */
  async anomalies(from: Date, to: Date, minScore: number | null | undefined, first: number, after: string | null | undefined): Promise<UserRiskConnection> {
    if (!(from.getTime() < to.getTime())) throw badInput('`from` must be earlier than `to`.');
    const threshold = minScore ?? this.options.threshold;
    checkScore('minScore', threshold);
    checkFirst(first, ANOMALY_PAGE);
    const cursor = anomalyCursor.decodeAfter(after);
    const answer: { total_count: number; user_id: number; score: number }[] = await this.dataSource.query(
      `WITH ensemble AS (
         SELECT d.user_id, max(d.score) AS score FROM (${DAY_ENSEMBLE_SQL}) d
         WHERE ${DAY_IN_RANGE('d.day', '$4', '$5')} GROUP BY d.user_id),
       candidates AS (
         SELECT e.user_id, e.score FROM ensemble e WHERE e.score >= $3
         UNION
         SELECT g.user_id, coalesce(e.score, 0) FROM suspect_users g LEFT JOIN ensemble e ON e.user_id = g.user_id
         WHERE g.since < $5 AND EXISTS (SELECT 1 FROM events x WHERE x.user_id = g.user_id AND x.ts >= $4 AND x.ts < $5))
       ${countedPageSql('candidates', '$6::float8 IS NULL OR score < $6 OR (score = $6 AND user_id > $7)', 'score DESC, user_id', '$8')}`,
      [...ensembleParams(this.weights), threshold, from, to, cursor?.score ?? null, cursor?.user ?? null, first + 1],
    );
    const { rows, totalCount } = countedPage(answer, 'user_id');
    const risks = await this.risks(rows.slice(0, first).map((row) => row.user_id), { from, to });
    return {
      ...connectionOf(anomalyCursor, rows, first, (row) => ({ score: row.score, user: row.user_id }), (_row, index) => risks[index]),
      totalCount,
      minScore: threshold,
    };
  }

  async userRisk(externalUserId: string): Promise<UserRisk> {
    const [user]: { id: number }[] = await this.dataSource.query(`SELECT id FROM users WHERE external_id = $1`, [pseudonymousId(externalUserId)]);
    if (!user) throw notFound(`No user with id ${JSON.stringify(externalUserId)} has sent events.`);
    return (await this.risks([user.id]))[0];
  }

  /**
   * Full risk records for dense user ids, in the given order: each user's worst day (within
   * `range` when given) with its contributions and findings, every day at or above the
   * threshold, and every scored day.
   */
  private async risks(userIds: number[], range?: { from: Date; to: Date }): Promise<UserRisk[]> {
    if (userIds.length === 0) return [];
    const scoreRows: { user_id: number; day: string; kind: string; model_version_id: number; score: number; findings: AnomalyFinding[]; first_event_at: Date; last_event_at: Date }[] =
      await this.dataSource.query(
        `SELECT s.user_id, s.day::text AS day, v.kind, s.model_version_id, s.score, s.findings, s.first_event_at, s.last_event_at
         FROM anomaly_scores s JOIN model_versions v ON v.id = s.model_version_id AND v.status = 'ACTIVE'
         WHERE s.user_id = ANY($1::int[]) AND v.kind = ANY($2::text[])
           AND ($3::timestamptz IS NULL OR ${DAY_IN_RANGE('s.day', '$3', '$4')})
         ORDER BY s.user_id, s.day, v.kind`,
        [userIds, DETECTORS.map((d) => KIND_OF[d]), range?.from ?? null, range?.to ?? null],
      );
    const people: { id: number; external_id: string; since: Date | null; peak: number | null; label: string | null; note: string | null; labelled_at: Date | null }[] =
      await this.dataSource.query(
        `SELECT u.id, u.external_id, g.since, g.peak_events_per_minute AS peak, l.label, l.note, l.labelled_at
         FROM users u LEFT JOIN suspect_users g ON g.user_id = u.id LEFT JOIN user_labels l ON l.user_id = u.id
         WHERE u.id = ANY($1::int[])`,
        [userIds],
      );
    const personOf = new Map(people.map((p) => [p.id, p]));
    const threshold = this.options.threshold;
    return userIds.map((id) => {
      const person = personOf.get(id)!;
      const rows = scoreRows.filter((row) => row.user_id === id);
      const days: (AnomalyDay & { contributions: DetectorContribution[] })[] = [];
      for (const day of new Set(rows.map((row) => row.day))) days.push(this.dayRisk(day, rows.filter((row) => row.day === day)));
      // The worst day speaks for the user; the earliest of equally bad days.
      const worst = days.reduce<(typeof days)[number] | null>((best, day) => (best === null || day.score > best.score ? day : best), null);
      const score = worst?.score ?? 0;
      const ingestGuard = person.since ? { since: person.since, peakEventsPerMinute: person.peak! } : null;
      return {
        userId: person.external_id,
        score,
        flagged: score >= threshold || ingestGuard !== null,
        worstDay: worst?.day ?? null,
        flaggedDays: days.filter((day) => day.score >= threshold).map(({ contributions: _, ...day }) => day),
        scoredDays: days.map(({ contributions: _, ...day }) => day),
        contributions: worst?.contributions ?? [],
        findings: worst?.findings ?? [],
        ingestGuard,
        label: person.label ? { userId: person.external_id, label: person.label as UserLabelKind, note: person.note, labelledAt: person.labelled_at! } : null,
        firstEventAt: rows.length ? new Date(Math.min(...rows.map((r) => r.first_event_at.getTime()))) : null,
        lastEventAt: rows.length ? new Date(Math.max(...rows.map((r) => r.last_event_at.getTime()))) : null,
      };
    });
  }

  /** One user-day's ensemble from the active detectors' rows for it. */
  private dayRisk(
    day: string,
    rows: { kind: string; model_version_id: number; score: number; findings: AnomalyFinding[]; first_event_at: Date; last_event_at: Date }[],
  ): AnomalyDay & { contributions: DetectorContribution[] } {
    const totalWeight = rows.reduce((sum, row) => sum + this.weights[DETECTOR_OF.get(row.kind)!], 0);
    const contributions = rows.map((row) => {
      const detector = DETECTOR_OF.get(row.kind)!;
      const weight = this.weights[detector];
      return { detector, score: row.score, weight, contribution: totalWeight > 0 ? (weight * row.score) / totalWeight : 0, modelVersionId: row.model_version_id };
    });
    // Every detector stores the same kind of findings; the statistical one's, when active, are the reference.
    const findingsRow = rows.find((row) => row.kind === KIND_OF.STATISTICAL) ?? rows[0];
    return {
      day,
      score: contributions.reduce((sum, c) => sum + c.contribution, 0),
      contributions,
      findings: findingsRow?.findings ?? [],
      firstEventAt: new Date(Math.min(...rows.map((r) => r.first_event_at.getTime()))),
      lastEventAt: new Date(Math.max(...rows.map((r) => r.last_event_at.getTime()))),
    };
  }

  async labelUser(externalUserId: string, label: UserLabelKind, note: string | null | undefined, labelledBy: string | null): Promise<UserLabel> {
    if (note && note.length > 2000) throw badInput(`\`note\` holds at most 2000 characters (got ${note.length}); shorten it.`);
    const [user]: { id: number }[] = await this.dataSource.query(`SELECT id FROM users WHERE external_id = $1`, [pseudonymousId(externalUserId)]);
    if (!user) throw notFound(`No user with id ${JSON.stringify(externalUserId)} has sent events; only known users can be labelled.`);
    const [row]: { labelled_at: Date }[] = await this.dataSource.query(
      `INSERT INTO user_labels (user_id, label, note, labelled_by) VALUES ($1, $2, $3, $4)
       ON CONFLICT (user_id) DO UPDATE SET label = excluded.label, note = excluded.note, labelled_by = excluded.labelled_by, labelled_at = now()
       RETURNING labelled_at`,
      [user.id, label, note ?? null, labelledBy],
    );
    return { userId: externalUserId, label, note: note ?? null, labelledAt: row.labelled_at };
  }

  /**
   * Admin labels (only `label` ones when given), newest first, then dense user id: a page of at
   * most `first` (1–500) after the cursor `after`, with `totalCount` over every page.
   * BAD_USER_INPUT for `first` out of range or a cursor that is not this list's.
   */
  async labels(label: UserLabelKind | null | undefined, first: number, after: string | null | undefined): Promise<UserLabelConnection> {
    checkFirst(first, USER_LABEL_PAGE);
    const cursor = userLabelCursor.decodeAfter(after);
    const answer: { total_count: number; user_id: number; external_id: string; label: UserLabelKind; note: string | null; labelled_at: Date; labelled_at_key: string }[] =
      await this.dataSource.query(
        `WITH labels AS (
           SELECT l.user_id, u.external_id, l.label, l.note, l.labelled_at, ${instantKeySql('l.labelled_at')} AS labelled_at_key
           FROM user_labels l JOIN users u ON u.id = l.user_id
           WHERE $1::text IS NULL OR l.label = $1)
         ${countedPageSql('labels', '$2::timestamptz IS NULL OR labelled_at < $2 OR (labelled_at = $2 AND user_id > $3)', 'labelled_at DESC, user_id', '$4')}`,
        [label ?? null, cursor?.labelledAt ?? null, cursor?.user ?? null, first + 1],
      );
    const { rows, totalCount } = countedPage(answer, 'user_id');
    return {
      ...connectionOf(
        userLabelCursor,
        rows,
        first,
        (row) => ({ labelledAt: row.labelled_at_key, user: row.user_id }),
        (row) => ({ userId: row.external_id, label: row.label, note: row.note, labelledAt: row.labelled_at }),
      ),
      totalCount,
    };
  }

  /** How much of [from, to)'s traffic comes from anomalous users. */
  async flaggedTraffic(from: Date, to: Date): Promise<FlaggedTraffic> {
    const threshold = this.options.threshold;
    const [row]: { users: string; events: string; total: string; suspect: string }[] = await this.dataSource.query(
      `WITH flagged AS (${this.flaggedUsersSql(3)})
       SELECT count(DISTINCT e.user_id) FILTER (WHERE f.user_id IS NOT NULL) AS users,
              count(*) FILTER (WHERE f.user_id IS NOT NULL) AS events,
              count(*) AS total,
              count(*) FILTER (WHERE g.since IS NOT NULL AND e.ts >= g.since) AS suspect
       FROM events e
       LEFT JOIN flagged f ON f.user_id = e.user_id
       LEFT JOIN suspect_users g ON g.user_id = e.user_id
       WHERE e.ts >= $1 AND e.ts < $2`,
      [from, to, ...this.flaggedUsersParams(threshold)],
    );
    const total = Number(row.total);
    return { threshold, users: Number(row.users), events: Number(row.events), eventShare: total === 0 ? 0 : Number(row.events) / total, suspectEvents: Number(row.suspect) };
  }
}
