/**
 * When a query's levels may come from ClickHouse's windowFunnel (levelPushdownOf), and which units
 * still send their events. That the pushed-down level equals ours is checked against ClickHouse
 * itself (window-funnel.clickhouse.spec.ts, test/clickhouse.e2e.ts); this pins the conditions.
 */
import { planFunnel, type FunnelSpec } from '../funnel/funnel-definition';
import { sqlString } from './clickhouse-client';
import { stepConditionSql } from './clickhouse-filters';
import { ClickHouseFunnels, levelPushdownOf, MAX_SLICE_USERS, userSlices } from './clickhouse-funnels';

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
    const needed = (pushdown: { needs(level: number): boolean }) => [0, 1, 2, 3].filter((level) => pushdown.needs(level));
    expect(needed(levelPushdownOf({ kind: 'report', plan: plan() })!)).toEqual([2, 3]);
    // With a breakdown, a unit at level 1 sends only its first in-range step-1 event's item and properties.
    const breakdown = levelPushdownOf({ kind: 'report', plan: plan({ breakdown: { property: 'channel' } }) })!;
    expect(needed(breakdown)).toEqual([2, 3]);
    expect(breakdown.firstStep).toBe(`argMinIf((item_id, props), ts, type = 'view' AND ts < ${TO.getTime() * 1000})`);
    expect(levelPushdownOf({ kind: 'report', plan: plan({ breakdown: { property: 'item.category' } }) })!.firstStep).toBe(`argMinIf((item_id, ''), ts, type = 'view' AND ts < ${TO.getTime() * 1000})`);
    expect(levelPushdownOf({ kind: 'report', plan: plan() })!.firstStep).toBeNull();
    expect(needed(levelPushdownOf({ kind: 'timeToConvert', plan: plan(), fromStep: 1, toStep: 3, buckets: 5 })!)).toEqual([3]);
    expect(needed(levelPushdownOf({ kind: 'droppedOff', plan: plan(), afterStep: 2, first: 10, cursor: null })!)).toEqual([2]);
  });

  it('keeps the per-unit path where windowFunnel cannot answer exactly', () => {
    expect(levelPushdownOf({ kind: 'trend', plan: plan(), periods: [[0, 1]] })).toBeNull();
    // Item and category filters need PostgreSQL's items table (clickhouse-filters.ts).
    expect(levelPushdownOf({ kind: 'report', plan: plan({ steps: [{ type: 'view', filters: [{ property: 'itemId', op: 'eq', value: 'i1' }] }, { type: 'cart' }] }) })).toBeNull();
    expect(levelPushdownOf({ kind: 'report', plan: plan({ steps: [{ type: 'view' }, { type: 'cart', filters: [{ property: 'item.category', op: 'isSet' }] }] }) })).toBeNull();
    expect(levelPushdownOf({ kind: 'report', plan: plan({ exclusions: [{ type: 'remove', fromStep: 1, toStep: 2 }] }) })).toBeNull();
    // strict_increase without strict_once on a repeated type: ClickHouse's greedy state differs.
    const repeated = { steps: [{ type: 'view' }, { type: 'view' }, { type: 'cart' }] };
    expect(levelPushdownOf({ kind: 'report', plan: plan({ ...repeated, modes: ['strict_increase'] }) })).toBeNull();
    const withOnce = levelPushdownOf({ kind: 'report', plan: plan({ ...repeated, modes: ['strict_increase', 'strict_once'] }) })!;
    // A post-`to` view also matches step 2, so it is not a step-1-only row and stays in.
    expect(withOnce.scanned).toBe(`(has(['view', 'cart'], type) AND NOT (ts >= ${TO.getTime() * 1000} AND 0))`);
  });

  it('pushes property filters down as conditions, scanning (outside strict_order) only the rows that match a step', () => {
    const to = TO.getTime() * 1000;
    const mobile = { property: 'device', op: 'eq', value: 'mobile' };
    const steps = [{ type: 'view', filters: [mobile] }, { type: 'cart' }];
    const pushdown = levelPushdownOf({ kind: 'report', plan: plan({ steps, breakdown: { property: 'channel' } }) })!;
    const view = stepConditionSql({ eventType: 'view', filters: [{ on: 'property', key: 'device', operator: 'eq', value: 'mobile' }] })!;
    expect(view).toMatch(/^\(type = 'view' AND .*'mobile'/);
    expect(pushdown.level).toBe(`windowFunnelIf(3600000000)(toUInt64(ts), ${view} AND ts < ${to}, type = 'cart', ${pushdown.scanned})`);
    // A view that is not mobile matches no step: not scanned, so it cannot make a tie. A post-`to` mobile view matches only step 1.
    expect(pushdown.scanned).toBe(`((${view} OR type = 'cart') AND NOT (ts >= ${to} AND ${view}))`);
    expect(pushdown.firstStep).toBe(`argMinIf((item_id, props), ts, ${view} AND ts < ${to})`);
    // Under strict_order every row is scanned: a view that is not mobile stops the scan in both engines.
    expect(levelPushdownOf({ kind: 'report', plan: plan({ steps, modes: ['strict_order'] }) })!.scanned).toBe(`(1 AND NOT (ts >= ${to} AND ${view}))`);
  });

  it('leaves out a post-`to` row of step 1 only when no later step of its type matches it too', () => {
    const to = TO.getTime() * 1000;
    const cheap = { property: 'price', op: 'lt', value: 10 };
    const dear = { property: 'price', op: 'gte', value: 100 };
    const condition = (filter: typeof cheap) => stepConditionSql({ eventType: 'view', filters: [{ on: 'property', key: filter.property, operator: filter.op as 'lt', value: filter.value }] })!;
    // view(cheap) → view(dear) → cart: a post-`to` cheap view is step 1 only unless it is also dear (never, but SQL does not know).
    const twoViews = levelPushdownOf({ kind: 'report', plan: plan({ steps: [{ type: 'view', filters: [cheap] }, { type: 'view', filters: [dear] }, { type: 'cart' }] }) })!;
    expect(twoViews.scanned).toBe(`((${condition(cheap)} OR ${condition(dear)} OR type = 'cart') AND NOT (ts >= ${to} AND ${condition(cheap)} AND NOT (${condition(dear)})))`);
    // A later unfiltered view matches every view: none is step 1 only.
    const anyView = levelPushdownOf({ kind: 'report', plan: plan({ steps: [{ type: 'view', filters: [cheap] }, { type: 'view' }] }) })!;
    expect(anyView.scanned).toBe(`((${condition(cheap)} OR type = 'view') AND NOT (ts >= ${to} AND 0))`);
  });

  it("writes a filter's value into the level query as it is, `$'` and all", () => {
    const value = "a$'b$&c";
    const filtered = plan({ steps: [{ type: 'view', filters: [{ property: 'code', op: 'eq', value }] }, { type: 'cart' }] });
    const pushdown = levelPushdownOf({ kind: 'report', plan: filtered })!;
    const sql = new ClickHouseFunnels(null as never, null as never, null as never, 'shop').levelsSql(filtered, pushdown, { low: 1, high: 100 });
    expect(sql.split(pushdown.level).length - 1).toBe(1);
    const count = (text: string) => sql.split(text).length - 1;
    expect(count(sqlString(value))).toBeGreaterThan(0);
    expect(count(sqlString(value))).toBe(count("JSONExtractString(filter_props, 'code')"));
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

describe('userSlices', () => {
  it('cuts user ids lowest..highest into ceil(events / sliceEvents) contiguous ranges of equal width', () => {
    // Ids 1..100 (100 ids), 1,000 events, 250 a slice: 4 ranges of 25 ids.
    expect(userSlices(1, 100, 1000, 250)).toEqual([
      { low: 1, high: 26 },
      { low: 26, high: 51 },
      { low: 51, high: 76 },
      { low: 76, high: 101 },
    ]);
    // 1,001 events: 5 ranges; 100 ids / 5 = 20 each.
    expect(userSlices(1, 100, 1001, 250).map((slice) => slice.high - slice.low)).toEqual([20, 20, 20, 20, 20]);
    // 10 ids in 3 ranges: width ceil(10 / 3) = 4, the last narrower.
    expect(userSlices(5, 14, 30, 10)).toEqual([
      { low: 5, high: 9 },
      { low: 9, high: 13 },
      { low: 13, high: 15 },
    ]);
  });

  it('never cuts finer than one user id, and always gives one range', () => {
    // One user with a million events stays one slice: a unit is never split.
    expect(userSlices(7, 7, 1_000_000, 10)).toEqual([{ low: 7, high: 8 }]);
    expect(userSlices(1, 3, 1_000_000, 10)).toEqual([{ low: 1, high: 2 }, { low: 2, high: 3 }, { low: 3, high: 4 }]);
    expect(userSlices(1, 1000, 5, 1_000_000)).toEqual([{ low: 1, high: 1001 }]);
  });

  it('spans at most MAX_SLICE_USERS ids, however few the events (sparse ids)', () => {
    // Two users 1 and 1,000,000 with 10 events: 1,000,000 ids in ceil(1e6 / 400,000) = 3 ranges of 333,334.
    expect(MAX_SLICE_USERS).toBe(400_000);
    expect(userSlices(1, 1_000_000, 10, 1_000_000)).toEqual([
      { low: 1, high: 333_335 },
      { low: 333_335, high: 666_669 },
      { low: 666_669, high: 1_000_001 },
    ]);
  });
});
