import type { FunnelSpec } from '../../src/funnel/funnel-definition';
import type { FunnelService } from '../../src/funnel/funnel.service';

/**
 * Every funnel query on one service, keyed by query and funnel name: the report, the daily trend,
 * time to convert from step 1 to 2 (7 buckets), and the units dropped off after step 1, page by
 * page (`pageSize` a page, at most `maxPages`) by cursor. `concurrent` asks for all funnels at once
 * (the worker pool's test), else one after another. Two services that answer alike give equal maps.
 */
export async function everyFunnelAnswer(
  service: FunnelService,
  specs: readonly { name: string; spec: FunnelSpec }[],
  options: { pageSize: number; maxPages: number; concurrent: boolean },
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const answer = async ({ name, spec }: { name: string; spec: FunnelSpec }): Promise<void> => {
    out[`funnel ${name}`] = await service.funnel(spec);
    out[`trend ${name}`] = await service.trend(spec, 'day');
    out[`timeToConvert ${name}`] = await service.timeToConvert(spec, 1, 2, 7);
    const pages: unknown[] = [];
    let after: string | null = null;
    for (let page = 0; page < options.maxPages; page++) {
      const connection = await service.droppedOff(spec, 1, options.pageSize, after);
      pages.push(connection);
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    out[`droppedOff ${name}`] = pages;
  };
  if (options.concurrent) await Promise.all(specs.map(answer));
  else for (const entry of specs) await answer(entry);
  return out;
}
