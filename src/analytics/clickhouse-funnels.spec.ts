/**
 * When a query's levels may come from ClickHouse's windowFunnel (levelPushdownOf), and which units
 * still send their events. That the pushed-down level equals ours is checked against ClickHouse
 * itself (window-funnel.clickhouse.spec.ts, test/clickhouse.e2e.ts); this pins the conditions.
 */
import { planFunnel, type FunnelSpec } from '../funnel/funnel-definition';
import { levelPushdownOf, listsComplete } from './clickhouse-funnels';

const FROM = new Date(Date.UTC(2026, 0, 5));
const TO = new Date(Date.UTC(2026, 0, 19));

function plan(overrides: Partial<FunnelSpec> = {}) {
  return planFunnel({ steps: [{ type: 'view' }, { type: 'cart' }, { type: 'purchase' }], conversionWindowSeconds: 3600, from: FROM, to: TO, ...overrides });
}

describe('levelPushdownOf', () => {
  it('pushes a type-only funnel down, with windowFunnel over the scanned rows and the range mapping of FUNNEL-SEMANTICS.md', () => {
    const pushdown = levelPushdownOf({ kind: 'report', plan: plan({ modes: ['strict_order', 'allow_reentry'] }) })!;
    const to = TO.getTime() * 1000;
    expect(pushdown.level).toBe(
      `windowFunnelIf(3600000000, 'strict_order', 'allow_reentry')(toUInt64(ts), type = 'view' AND ts < ${to}, type = 'cart', type = 'purchase', ${pushdown.scanned})`,
    );
    // strict_order reads every type; a post-`to` view (step 1 only) is left out.
    expect(pushdown.scanned).toBe(`(1 AND NOT (ts >= ${to} AND type = 'view'))`);
    expect(levelPushdownOf({ kind: 'report', plan: plan() })!.scanned).toBe(`(has(['view', 'cart', 'purchase'], type) AND NOT (ts >= ${to} AND type = 'view'))`);
  });

  it('asks for events only where the answer needs more than the level', () => {
    expect(levelPushdownOf({ kind: 'report', plan: plan() })!.needsEvents).toBe('level >= 2');
    // With a breakdown, a unit at level 1 sends only its first in-range step-1 event's item and properties.
    const breakdown = levelPushdownOf({ kind: 'report', plan: plan({ breakdown: { property: 'channel' } }) })!;
    expect(breakdown.needsEvents).toBe('level >= 2');
    expect(breakdown.firstStep).toBe(`argMinIf((item_id, props), ts, type = 'view' AND ts < ${TO.getTime() * 1000})`);
    expect(levelPushdownOf({ kind: 'report', plan: plan({ breakdown: { property: 'item.category' } }) })!.firstStep).toBe(`argMinIf((item_id, ''), ts, type = 'view' AND ts < ${TO.getTime() * 1000})`);
    expect(levelPushdownOf({ kind: 'report', plan: plan() })!.firstStep).toBeNull();
    expect(levelPushdownOf({ kind: 'timeToConvert', plan: plan(), fromStep: 1, toStep: 3, buckets: 5 })!.needsEvents).toBe('level >= 3');
    expect(levelPushdownOf({ kind: 'droppedOff', plan: plan(), afterStep: 2, first: 10, cursor: null })!.needsEvents).toBe('level = 2');
  });

  it('keeps the per-unit path where windowFunnel cannot answer exactly', () => {
    expect(levelPushdownOf({ kind: 'trend', plan: plan(), periods: [[0, 1]] })).toBeNull();
    expect(levelPushdownOf({ kind: 'report', plan: plan({ steps: [{ type: 'view', filters: [{ property: 'p', op: 'eq', value: 1 }] }, { type: 'cart' }] }) })).toBeNull();
    expect(levelPushdownOf({ kind: 'report', plan: plan({ exclusions: [{ type: 'remove', fromStep: 1, toStep: 2 }] }) })).toBeNull();
    // strict_increase without strict_once on a repeated type: ClickHouse's greedy state differs.
    const repeated = { steps: [{ type: 'view' }, { type: 'view' }, { type: 'cart' }] };
    expect(levelPushdownOf({ kind: 'report', plan: plan({ ...repeated, modes: ['strict_increase'] }) })).toBeNull();
    const withOnce = levelPushdownOf({ kind: 'report', plan: plan({ ...repeated, modes: ['strict_increase', 'strict_once'] }) })!;
    // A post-`to` view also matches step 2, so it is not a step-1-only row and stays in.
    expect(withOnce.scanned).toBe(`(has(['view', 'cart'], type) AND NOT (ts >= ${TO.getTime() * 1000} AND 0))`);
  });

  it('keeps every funnel with a control on the per-unit path (windowFunnel has no such rule), and pushes down several breakdowns', () => {
    const three = [{ type: 'view' }, { type: 'cart' }, { type: 'purchase' }];
    expect(levelPushdownOf({ kind: 'report', plan: plan({ steps: [three[0], { ...three[1], windowSeconds: 600 }, three[2]] }) })).toBeNull();
    expect(levelPushdownOf({ kind: 'report', plan: plan({ steps: [three[0], { ...three[1], minSecondsFromPrevious: 10 }, three[2]] }) })).toBeNull();
    expect(levelPushdownOf({ kind: 'report', plan: plan({ steps: [three[0], { ...three[1], optional: true }, three[2]] }) })).toBeNull();
    expect(levelPushdownOf({ kind: 'report', plan: plan({ holdConstant: ['itemId'] }) })).toBeNull();
    // A window as long as the funnel's changes nothing, so the funnel keeps the fast paths.
    expect(levelPushdownOf({ kind: 'report', plan: plan({ steps: [three[0], { ...three[1], windowSeconds: 3600, minSecondsFromPrevious: 0 }, three[2]] }) })).not.toBeNull();
    const several = levelPushdownOf({ kind: 'report', plan: plan({ breakdowns: [{ property: 'item.category' }, { property: 'channel' }] }) })!;
    expect(several.firstStep).toBe(`argMinIf((item_id, props), ts, type = 'view' AND ts < ${TO.getTime() * 1000})`);
  });
});

describe('listsComplete', () => {
  const report = levelPushdownOf({ kind: 'report', plan: plan() })!;

  it('accepts units answered by their level, and units that sent their events', () => {
    expect(listsComplete([{ times: [], level: 1, untied: 1 }, { times: [], level: 0, untied: 0 }, { times: [1, 2], level: 3, untied: 1 }], report)).toBe(true);
  });

  it('rejects a unit whose level needs events that did not come (an insert between the two reads)', () => {
    expect(listsComplete([{ times: [], level: 2, untied: 1 }], report)).toBe(false);
    expect(listsComplete([{ times: [], level: 1, untied: 0 }], report)).toBe(false);
  });
});
