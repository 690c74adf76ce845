import type { DataSource } from 'typeorm';

/**
 * The shop behind `npm run bench funnel-concurrency` and test/funnel-concurrency.e2e.ts: per user,
 * EVENTS_PER_USER events 7 minutes apart in one session from FROM on, written by SQL. Types and
 * devices follow formulas of the user's dense id and the event's number n (see `eventType`), so a
 * test can work out a funnel's answer without the engine.
 */
export const EVENTS_PER_USER = 10;
export const FROM = '2026-01-05T00:00:00Z';
export const TO = '2026-01-20T00:00:00Z';
export const TYPES = ['view', 'cart', 'search', 'checkout', 'purchase', 'fav', 'view'];

/** The type of user `userId`'s event number `n`, as the SQL below writes it. */
export const eventType = (userId: number, n: number): string => TYPES[(userId * 31 + n * n * 3) % TYPES.length];

/** A small funnel over every event: view → purchase within the hour. */
export const SMALL_QUERY = `{ funnel(input: { steps: [{ type: "view" }, { type: "purchase" }], conversionWindowSeconds: 3600, from: "${FROM}", to: "${TO}" }) { totalUnits steps { count } } }`;

/** Writes `users` users and their events into an empty database. */
export async function loadConcurrencyShop(dataSource: DataSource, users: number): Promise<void> {
  await dataSource.query(`INSERT INTO users (external_id) SELECT 'u' || g FROM generate_series(1, ${users}) g`);
  // Straight into `events`: its months' partitions first (the writers make them themselves).
  await dataSource.query(`SELECT ensure_event_partitions(timestamptz '${FROM}', timestamptz '${FROM}' + interval '90 days')`);
  await dataSource.query(`
    INSERT INTO events (event_id, user_id, session_id, type, ts, props)
    SELECT 'e' || u.id || '-' || n, u.id, 's' || u.id,
           (ARRAY[${TYPES.map((type) => `'${type}'`).join(', ')}])[1 + (u.id * 31 + n * n * 3) % ${TYPES.length}],
           timestamptz '${FROM}' + make_interval(mins => (u.id % 2000) * 9 + n * 7),
           jsonb_build_object('device', (ARRAY['mobile', 'desktop', 'tablet'])[1 + (u.id * 7 + n) % 3])
    FROM users u CROSS JOIN generate_series(0, ${EVENTS_PER_USER - 1}) n`);
  await dataSource.query('ANALYZE events');
}
