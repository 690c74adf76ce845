import { LRUCache } from 'lru-cache';
import type { DataSource } from 'typeorm';

/** How long a looked-up latest event instant is reused (ms). */
const LATEST_EVENT_TTL_MS = 60_000;

/** A shop with an event this recent (ms) is live: its queries read as of now. */
const LIVE_WITHIN_MS = 86_400_000;

/**
 * "Now" as the shop's data has it: the current time for a live shop (an event in the last 24
 * hours, or none stored), else 1 ms after its latest stored event. Queries whose instant defaults
 * to now (purchase propensity, at-risk users) use it, so a shop whose events stopped a while ago
 * (an import, the demo shop served days after it was generated) is read at the end of its events
 * rather than at an empty present, while a live shop sees its newest events at once.
 *
 * The lookup is exact and cheap for a live shop: the events of the last two days are searched
 * first (the BRIN index on `ts` narrows the scan to them); only when there are none is the whole
 * table read. The latest event found is reused for 60 s (lru-cache with a TTL; concurrent callers
 * share one query), which can only matter to a shop going from idle to live.
 */
export class LatestEventInstant {
  /** The latest stored event's time (ms), or -1 when nothing is stored. */
  private readonly cache: LRUCache<'latest', number>;

  constructor(dataSource: DataSource) {
    this.cache = new LRUCache<'latest', number>({
      max: 1,
      ttl: LATEST_EVENT_TTL_MS,
      fetchMethod: async () => {
        const recent: { latest: Date | null }[] = await dataSource.query(`SELECT max(ts) AS latest FROM events WHERE ts > now() - interval '2 days'`);
        const latest = recent[0].latest ?? ((await dataSource.query(`SELECT max(ts) AS latest FROM events`)) as { latest: Date | null }[])[0].latest;
        return latest?.getTime() ?? -1;
      },
    });
  }

  /** The instant (a Date); throws what the database throws. */
  async get(): Promise<Date> {
    const latest = (await this.cache.fetch('latest'))!;
    const now = Date.now();
    return new Date(latest < 0 || now - latest <= LIVE_WITHIN_MS ? now : latest + 1);
  }
}
