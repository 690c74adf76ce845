import { LRUCache } from 'lru-cache';
import type { DataSource } from 'typeorm';

/** How long a looked-up latest event instant is reused (ms). */
const LATEST_EVENT_TTL_MS = 60_000;

/**
 * "Now" as the shop's data has it: 1 ms after its latest stored event, or the current time when
 * nothing is stored or the latest event is not in the past. Queries whose instant defaults to now
 * (purchase propensity, at-risk users) use it, so a shop whose events stopped a while ago (an
 * import, the demo shop served days after it was generated) is read at the end of its events
 * rather than at an empty present.
 *
 * The lookup is exact and cheap for a live shop: the events of the last two days are searched
 * first (the BRIN index on `ts` narrows the scan to them); only when there are none is the whole
 * table read. Each answer is reused for 60 s (lru-cache with a TTL; concurrent callers share one
 * query).
 */
export class LatestEventInstant {
  private readonly cache: LRUCache<'latest', Date>;

  constructor(dataSource: DataSource) {
    this.cache = new LRUCache<'latest', Date>({
      max: 1,
      ttl: LATEST_EVENT_TTL_MS,
      fetchMethod: async () => {
        const recent: { latest: Date | null }[] = await dataSource.query(`SELECT max(ts) AS latest FROM events WHERE ts > now() - interval '2 days'`);
        const latest = recent[0].latest ?? ((await dataSource.query(`SELECT max(ts) AS latest FROM events`)) as { latest: Date | null }[])[0].latest;
        const now = Date.now();
        return new Date(latest === null ? now : Math.min(now, latest.getTime() + 1));
      },
    });
  }

  /** The instant (a Date); throws what the database throws. */
  async get(): Promise<Date> {
    return (await this.cache.fetch('latest'))!;
  }
}
