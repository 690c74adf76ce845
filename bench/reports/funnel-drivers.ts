import 'reflect-metadata';
import { intFlag, parseArgs, stringFlag } from '../../src/cli/args';
import { FunnelService } from '../../src/funnel/funnel.service';
import type { FunnelSpec } from '../../src/funnel/funnel-definition';
import type { FunnelDriver } from '../../src/funnel/funnel-drivers.types';
import { createDemoShop } from '../../src/sim';
import { isShopProfile } from '../../src/sim/profiles';
import { benchDatabase, loadBenchShop, printMarkdown } from '../support';

/**
 * Conversion drivers on a generated demo shop, every factor tested, next to what the generator
 * does with it (src/sim/shopper.ts):
 *
 *   npm run bench funnel-drivers -- [--users 20000] [--days 14] [--seed 5] [--profile classic] [--step 2]
 *
 * The funnel is view → cart → purchase counted by session, window 1 hour; the answer is
 * `FunnelService.drivers`, the code behind the funnelDrivers query. docs/funnels.md shows a run.
 */

/** The generator's log-odds shift of a session's chance to buy, by factor label (0: none; blank: not a direct input). */
const GENERATOR_EFFECT: Record<string, string> = {
  'device = mobile': '−0.35',
  'device = desktop': '+0.25',
  'device = tablet': '+0.05',
  'channel = email': '+0.45',
  'channel = direct': '+0.35',
  'channel = organic': '0',
  'channel = ads': '−0.15',
  'channel = social': '−0.55',
  'step event at 00:00–06:00 UTC': '−0.4',
  'step event at 06:00–12:00 UTC': '0',
  'step event at 12:00–18:00 UTC': '+0.1 (12–13 h)',
  'step event at 18:00–24:00 UTC': '+0.25 (19–22 h)',
};

export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { users: 'string', days: 'string', seed: 'string', profile: 'string', step: 'string' } });
  const users = intFlag(args, 'users', 20_000, 100);
  const days = intFlag(args, 'days', 14, 1);
  const seed = intFlag(args, 'seed', 5, 0);
  const step = intFlag(args, 'step', 2, 1);
  const profile = stringFlag(args, 'profile') ?? 'classic';
  if (!isShopProfile(profile) || step > 2) throw new Error('--profile is classic or realistic; --step is 1 (view → cart) or 2 (cart → purchase)');
  process.env.LOG_LEVEL ??= 'warn';
  const db = await benchDatabase('funnel_drivers');
  const funnels = new FunnelService(db.dataSource, undefined, { workers: 0 });
  try {
    const shop = createDemoShop({ users, days, seed, profile });
    const loaded = await loadBenchShop(db.dataSource, shop);
    const spec: FunnelSpec = {
      steps: [{ type: 'view' }, { type: 'cart' }, { type: 'purchase' }],
      conversionWindowSeconds: 3600,
      from: new Date(shop.options.startMs),
      to: new Date(shop.options.endMs),
      countBy: 'session',
    };
    const started = performance.now();
    const answer = await funnels.drivers(spec, step, {});
    const seconds = (performance.now() - started) / 1000;
    console.log(`Demo shop: ${profile}, ${users.toLocaleString('en-US')} users, ${days} days, seed ${seed}: ${loaded.imported.toLocaleString('en-US')} events.`);
    console.log(`funnelDrivers(view → cart → purchase by session, window 1 h, step ${step}) in ${seconds.toFixed(1)} s: ${answer.reached} sessions reached step ${step}, ${answer.converted} went on;`);
    console.log(`${answer.tested} factors tested (${answer.belowSupport} below the minimum support of 30), ${answer.positive.length} positive and ${answer.negative.length} negative drivers at q ≤ 0.05.\n`);
    const rows = answer.factors.map((factor: FunnelDriver) => ({
      factor: factor.label,
      'with: converted / units': `${factor.convertersWith} / ${factor.convertersWith + factor.dropOffsWith}`,
      'conversion with / without': `${pct(factor.conversionWith)} / ${pct(factor.conversionWithout)}`,
      'odds ratio [95 % CI]': `${factor.oddsRatio.toFixed(2)} [${factor.oddsRatioLow.toFixed(2)}, ${factor.oddsRatioHigh.toFixed(2)}]`,
      q: factor.qValue < 1e-4 ? factor.qValue.toExponential(0) : factor.qValue.toFixed(4),
      driver: factor.significant ? (factor.oddsRatio > 1 ? '+' : '−') : '',
      generator: GENERATOR_EFFECT[factor.label] ?? '',
    }));
    printMarkdown(rows);
  } finally {
    await funnels.close();
    await db.drop();
  }
}

function pct(value: number): string {
  return `${(100 * value).toFixed(1)} %`;
}
