import { DateTimeResolver, GraphQLJSON } from 'graphql-scalars';
import { Field, Float, ID, InputType, Int, registerEnumType } from 'type-graphql';
import type { CountBy, FunnelSpec } from './funnel-definition';
import { ID_RULE } from '../graphql/input-rules';

export enum FilterOp {
  EQ = 'eq',
  NEQ = 'neq',
  GT = 'gt',
  GTE = 'gte',
  LT = 'lt',
  LTE = 'lte',
  IN = 'in',
  CONTAINS = 'contains',
  IS_SET = 'isSet',
  IS_NOT_SET = 'isNotSet',
}
registerEnumType(FilterOp, {
  name: 'FilterOp',
  description:
    'EQ/NEQ compare JSON values exactly ("1" ≠ 1; NEQ also matches a missing value); GT/GTE/LT/LTE compare numbers (numeric strings count) or strings; IN takes a list; CONTAINS is a substring or array member; IS_SET/IS_NOT_SET take no value (null counts as not set).',
});

export enum FunnelMode {
  STRICT_ORDER = 'strict_order',
  STRICT_DEDUPLICATION = 'strict_deduplication',
  STRICT_INCREASE = 'strict_increase',
  STRICT_ONCE = 'strict_once',
  ALLOW_REENTRY = 'allow_reentry',
}
registerEnumType(FunnelMode, { name: 'FunnelMode', description: "ClickHouse windowFunnel modes; none is the default mode. ALLOW_REENTRY needs STRICT_ORDER." });

export enum FunnelCountBy {
  USER = 'user',
  SESSION = 'session',
}
registerEnumType(FunnelCountBy, { name: 'FunnelCountBy', description: 'What a funnel counts: users, or sessions (events without a session are left out).' });

export enum TrendInterval {
  DAY = 'day',
  WEEK = 'week',
}
registerEnumType(TrendInterval, { name: 'TrendInterval', description: 'UTC days, or ISO weeks starting on Monday 00:00 UTC.' });

@InputType({ description: 'A condition on an event: a key of its properties, or "itemId" / "item.category" for its item.' })
export class PropertyFilterInput {
  @Field({ description: 'A properties key such as "device", or "itemId", or "item.category".' })
  property: string;

  @Field(() => FilterOp)
  op: FilterOp;

  @Field(() => GraphQLJSON, { nullable: true, description: 'A string, number or boolean; a list for IN; nothing for IS_SET / IS_NOT_SET.' })
  value?: unknown;
}

@InputType({ description: 'A funnel step: an event type, and filters that must all hold.' })
export class FunnelStepInput {
  @Field({ description: 'Event type, e.g. "view", "cart", "purchase".' })
  type: string;

  @Field(() => [PropertyFilterInput], { nullable: true })
  filters?: PropertyFilterInput[] | null;

  @Field(() => String, { nullable: true, description: 'Shown in results; defaults to the type.' })
  label?: string | null;

  @Field(() => Int, {
    nullable: true,
    description:
      'Per-step conversion window: this step at most this many seconds after the chain\'s previous step (inclusive; the last step it filled when optional steps were skipped), within conversionWindowSeconds, which still bounds the whole chain. Not on step 1. 0 to conversionWindowSeconds.',
  })
  windowSeconds?: number | null;

  @Field(() => Int, {
    nullable: true,
    description: 'At least this many seconds after the chain\'s previous step (inclusive), e.g. to ignore an instant bounce. Not on step 1. 0 to conversionWindowSeconds, and at most windowSeconds.',
  })
  minSecondsFromPrevious?: number | null;

  @Field(() => Boolean, {
    nullable: true,
    defaultValue: false,
    description:
      'The chain may skip this step and still count later steps. Its count is the units whose chain did this step. Not step 1 or the last step, and not an exclusion\'s fromStep or toStep.',
  })
  optional?: boolean | null;
}

@InputType({
  description:
    'A second range for the same funnel, answered beside the first in `comparison`: from and to, or previousPeriod: true (the range as long as [from, to) that ends at `from`; a saved funnel run over another range compares with the period before that one).',
})
export class FunnelCompareToInput {
  @Field(() => DateTimeResolver, { nullable: true, description: 'Chains start at or after this instant, as FunnelInput.from. With `to`; not with previousPeriod.' })
  from?: Date | null;

  @Field(() => DateTimeResolver, { nullable: true, description: 'Chains start before this instant, as FunnelInput.to. With `from`; not with previousPeriod.' })
  to?: Date | null;

  @Field(() => Boolean, { nullable: true, description: 'Compare with the period just before [from, to), of the same length (e.g. last week against the week before).' })
  previousPeriod?: boolean | null;
}

@InputType({ description: 'PostHog-style exclusion: a unit that does this event between its fromStep and toStep events does not progress past fromStep.' })
export class FunnelExclusionInput {
  @Field()
  type: string;

  @Field(() => [PropertyFilterInput], { nullable: true })
  filters?: PropertyFilterInput[] | null;

  @Field(() => Int, { description: 'Steps count from 1; 1 ≤ fromStep < toStep ≤ number of steps.' })
  fromStep: number;

  @Field(() => Int)
  toStep: number;
}

@InputType({ description: 'Restrict a funnel to some users: a list of ids, filters on user properties, or both (all must hold).' })
export class FunnelCohortInput {
  @Field(() => [ID], { nullable: true, description: `The shop's user ids (at most 100,000, each ${ID_RULE}).` })
  userIds?: string[] | null;

  @Field(() => [PropertyFilterInput], { nullable: true, description: 'Filters on the user\'s stored properties.' })
  userProperties?: PropertyFilterInput[] | null;
}

@InputType({ description: 'Split a funnel by a property of the step-1 event of each unit\'s reported chain.' })
export class FunnelBreakdownInput {
  @Field({ description: 'A properties key such as "device" or "channel", or "itemId" / "item.category".' })
  property: string;

  @Field(() => Int, { nullable: true, description: 'Groups kept, most entered first, ties by key (1–100, default 10); the rest fold into one group (isOther, valueType OTHER).' })
  limit?: number | null;

  @Field(() => [GraphQLJSON], {
    nullable: true,
    description:
      'Keys with a privacy budget must list the values to show (1–100, as JSON values: "mobile", 10, true); every other unit is counted in one "other" group. Which values occur is itself private, so such a key cannot ask for the top values. Other keys must leave it out.',
  })
  values?: unknown[] | null;
}

@InputType({ description: 'A conversion funnel over the events whose step-1 event happens in [from, to). 2 to 32 steps (the engine keeps a step set in a 32-bit mask).' })
export class FunnelInput implements FunnelSpec {
  @Field(() => [FunnelStepInput], { description: '2 to 32 steps, in order.' })
  steps: FunnelStepInput[];

  @Field(() => Int, { description: 'Every step of a chain within this many seconds of its step-1 event (inclusive).' })
  conversionWindowSeconds: number;

  @Field(() => DateTimeResolver, { description: 'Chains start (step 1) at or after this instant; earlier events play no part, in any mode.' })
  from: Date;

  @Field(() => DateTimeResolver, {
    description:
      'Chains start before this instant. Later events, up to the window, may complete a chain and, in the strict modes, stop it; a step-1 event after it starts nothing (docs/funnels.md, Time range).',
  })
  to: Date;

  @Field(() => FunnelCountBy, { nullable: true, defaultValue: FunnelCountBy.USER })
  countBy?: CountBy | null;

  @Field(() => [FunnelMode], { nullable: true })
  modes?: FunnelMode[] | null;

  @Field(() => [FunnelExclusionInput], { nullable: true })
  exclusions?: FunnelExclusionInput[] | null;

  @Field(() => FunnelCohortInput, { nullable: true })
  cohort?: FunnelCohortInput | null;

  @Field(() => FunnelBreakdownInput, { nullable: true })
  breakdown?: FunnelBreakdownInput | null;

  @Field(() => [FunnelBreakdownInput], {
    nullable: true,
    description:
      'Several breakdown properties at once (1 to 3; not together with `breakdown`): a group per combination of their values on the step-1 event, as many kept as the largest limit, the rest folded into "other".',
  })
  breakdowns?: FunnelBreakdownInput[] | null;

  @Field(() => [String], {
    nullable: true,
    description:
      'Hold properties constant across steps (at most 3): every event of a chain carries the same value of each, e.g. ["itemId"] (same item), ["session_id"], ["device"]; "itemId" / "item.category" for the item. Events without a value (absent or null) join no chain but still count for the strict modes\' stops.',
  })
  holdConstant?: string[] | null;

  @Field(() => FunnelCompareToInput, { nullable: true, description: 'The funnel query answers this range too, in `comparison` (other funnel queries refuse it).' })
  compareTo?: FunnelCompareToInput | null;

  @Field(() => Boolean, { nullable: true, defaultValue: false, description: 'Leave out users the anomaly detectors flag (bots, fake orders) and those the ingest guard marked.' })
  excludeAnomalous?: boolean | null;

  @Field(() => Float, { nullable: true, description: 'With excludeAnomalous: the ensemble score from which a user is left out (default FUNNELCAST_ANOMALY_THRESHOLD).' })
  anomalyThreshold?: number | null;
}
