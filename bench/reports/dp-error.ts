import 'reflect-metadata';
import { intFlag, parseArgs } from '../../src/cli/args';
import { EventService } from '../../src/events/event.service';
import { STANDARD_EVENT_TYPES } from '../../src/events/event.types';
import { groupKeyOf } from '../../src/funnel/breakdown-key';
import type { FunnelSpec } from '../../src/funnel/funnel-definition';
import { FunnelService } from '../../src/funnel/funnel.service';
import { cryptoUniform } from '../../src/privacy/dp-noise';
import { DP_EVENTS_PER_USER, DP_SESSIONS_PER_USER, OTHER_EVENT_TYPE, privateEventCounts, privateFunnel, utcDays } from '../../src/privacy/private-analytics';
import { createDemoShop } from '../../src/sim';
import { benchDatabase, loadBenchShop, printMarkdown } from '../support';

/**
 * `npm run bench dp-error -- [--users 5000] [--days 14] [--seed 1] [--repeat 1000]`
 *
 * The error of differentially private answers (docs/privacy.md, "Differential privacy") on the demo
 * shop at ε = 0.1, 1 and 10: the exact funnel (view → cart → checkout → purchase by user, 1-day
 * window, whole period; and broken down by device) and eventStats are computed once, then the code
 * that answers keys with a budget (`privateFunnel`, `privateEventCounts`, crypto noise) releases
 * them `--repeat` times. Reported: the root-mean-square error against the exact, unclamped answer,
 * absolute and relative, so it includes post-processing (rounding, clamping at 0, monotone steps)
 * and, for eventStats, the bias of counting each user's first 20 events and 5 sessions.
 */
export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { users: 'string', days: 'string', seed: 'string', repeat: 'string' } });
  const users = intFlag(args, 'users', 5000, 100);
  const days = intFlag(args, 'days', 14, 1);
  const seed = intFlag(args, 'seed', 1, 0);
  const repeat = intFlag(args, 'repeat', 1000, 10);
  process.env.LOG_LEVEL ??= 'warn';
  const db = await benchDatabase('dp_error');
  const funnels = new FunnelService(db.dataSource, undefined, { workers: 0 });
  const events = new EventService(db.dataSource, { maxBatch: 5000, maxPropertiesBytes: 16_384 });
  try {
    const shop = createDemoShop({ users, days, seed });
    const loaded = await loadBenchShop(db.dataSource, shop);
    const from = new Date(shop.options.startMs);
    const to = new Date(shop.options.endMs);
    const spec: FunnelSpec = { steps: ['view', 'cart', 'checkout', 'purchase'].map((type) => ({ type })), conversionWindowSeconds: 86_400, from, to };
    const exact = await funnels.funnel(spec);
    const devices = ['mobile', 'desktop', 'tablet'];
    const exactByDevice = await funnels.funnel({ ...spec, breakdown: { property: 'device', values: devices } }, {}, { everyBreakdownGroup: true });
    const stats = await events.stats(from, to);
    const clamped = await events.clampedCounts(from, to, { eventsPerUser: DP_EVENTS_PER_USER, sessionsPerUser: DP_SESSIONS_PER_USER, types: STANDARD_EVENT_TYPES, otherType: OTHER_EVENT_TYPE });
    const grid = utcDays(from, to);
    const exactView = stats.byType.find((cell) => cell.type === 'view')?.count ?? 0;
    const clampedView = clamped.cells.filter((cell) => cell.type === 'view').reduce((sum, cell) => sum + cell.count, 0);
    const mobileKey = groupKeyOf('mobile');
    const exactMobile = exactByDevice.breakdown!.find((group) => group.key === mobileKey)!;

    console.log(`Demo shop: ${users.toLocaleString('en-US')} users, ${days} days, seed ${seed}: ${loaded.imported.toLocaleString('en-US')} events; ${repeat} releases per epsilon.`);
    console.log(`Funnel view → cart → checkout → purchase by user, 1-day window: ${exact.steps.map((step) => step.count).join(' / ')} (conversion ${pct(exact.steps[3].conversionFromFirst)}); mobile ${exactMobile.steps.map((step) => step.count).join(' / ')}.`);
    console.log(`eventStats: ${stats.total} events (${clamped.cells.reduce((sum, cell) => sum + cell.count, 0)} after clamping to ${DP_EVENTS_PER_USER} per user), view ${exactView} (${clampedView}), users ${stats.distinctUsers}, sessions ${stats.distinctSessions} (${clamped.sessions} at ≤ ${DP_SESSIONS_PER_USER} per user); ${grid.length} days × ${STANDARD_EVENT_TYPES.length + 1} type cells.\n`);

    // How the per-user clamp trades bias for noise on eventStats' total at ε = 1 (the chosen one is DP_EVENTS_PER_USER).
    const sweep: Record<string, string>[] = [];
    for (const eventsPerUser of [10, 20, 50, 100, 200, 500]) {
      const counted = await events.clampedCounts(from, to, { eventsPerUser, sessionsPerUser: DP_SESSIONS_PER_USER, types: STANDARD_EVENT_TYPES, otherType: OTHER_EVENT_TYPE });
      const kept = counted.cells.reduce((sum, cell) => sum + cell.count, 0);
      const noise = Math.SQRT2 * (eventsPerUser + 1 + DP_SESSIONS_PER_USER) * Math.sqrt(grid.length * (STANDARD_EVENT_TYPES.length + 1));
      sweep.push({
        'events per user': String(eventsPerUser),
        'events kept': `${kept} (${pct(kept / stats.total)})`,
        'noise SE of total at ε = 1': noise.toFixed(0),
        'RMS error of total at ε = 1': pct(Math.sqrt((stats.total - kept) ** 2 + noise ** 2) / stats.total),
      });
    }
    printMarkdown(sweep);
    console.log('');

    const rows: Record<string, string>[] = [];
    for (const epsilon of [0.1, 1, 10]) {
      const uniform = cryptoUniform();
      const errors = new Map<string, { sum: number; exact: number }>();
      const add = (name: string, released: number, truth: number) => {
        const entry = errors.get(name) ?? { sum: 0, exact: truth };
        entry.sum += (released - truth) ** 2;
        errors.set(name, entry);
      };
      let funnelSensitivity = 0;
      let breakdownSensitivity = 0;
      let statsSensitivity = 0;
      for (let r = 0; r < repeat; r++) {
        const plain = privateFunnel(exact, null, epsilon, uniform);
        funnelSensitivity = plain.sensitivity;
        add('funnel step 1 (view)', plain.result.steps[0].count, exact.steps[0].count);
        add('funnel step 4 (purchase)', plain.result.steps[3].count, exact.steps[3].count);
        add('funnel conversion 1 → 4 (points)', 100 * plain.result.steps[3].conversionFromFirst, 100 * exact.steps[3].conversionFromFirst);
        const broken = privateFunnel(exactByDevice, devices.map(groupKeyOf), epsilon, uniform);
        breakdownSensitivity = broken.sensitivity;
        add('breakdown mobile, step 4', broken.result.breakdown![0].steps[3].count, exactMobile.steps[3].count);
        const released = privateEventCounts(clamped, grid, epsilon, uniform);
        statsSensitivity = released.sensitivity;
        add('eventStats total', released.total, stats.total);
        add('eventStats view (all days)', released.byType.find((cell) => cell.type === 'view')!.count, exactView);
        add('eventStats distinctUsers', released.distinctUsers, stats.distinctUsers);
        add('eventStats distinctSessions', released.distinctSessions, stats.distinctSessions);
      }
      for (const [answer, { sum, exact: truth }] of errors) {
        const rmse = Math.sqrt(sum / repeat);
        const sensitivity = answer.startsWith('breakdown') ? breakdownSensitivity : answer.startsWith('funnel') ? funnelSensitivity : statsSensitivity;
        rows.push({
          ε: String(epsilon),
          answer,
          sensitivity: String(sensitivity),
          exact: answer.includes('points') ? truth.toFixed(2) : String(truth),
          'RMS error': rmse < 10 ? rmse.toFixed(2) : rmse.toFixed(0),
          relative: answer.includes('points') ? '—' : truth === 0 ? '—' : pct(rmse / truth),
        });
      }
    }
    printMarkdown(rows);
  } finally {
    await funnels.close();
    await db.drop();
  }
}

function pct(value: number): string {
  return `${(100 * value).toFixed(value < 0.01 ? 2 : 1)} %`;
}
