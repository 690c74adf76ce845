import { DateTimeResolver, GraphQLJSON, GraphQLJSONObject } from 'graphql-scalars';
import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ConnectionType, totalCountDescription, type PageSize } from '../graphql/connection';
import type { BreakdownValueKind } from './breakdown-key';
import { PrivacyNote } from '../privacy/privacy.types';

export enum BreakdownValueType {
  STRING = 'string',
  NUMBER = 'number',
  BOOLEAN = 'boolean',
  NULL = 'null',
  ARRAY = 'array',
  OBJECT = 'object',
  MISSING = 'missing',
  OTHER = 'other',
  COMBINATION = 'combination',
}
registerEnumType(BreakdownValueType, {
  name: 'BreakdownValueType',
  description:
    'The JSON type of a breakdown group\'s value (STRING … OBJECT; NULL for a property sent as JSON null), MISSING for units whose step-1 event has no value (the key is absent, or no item / no category), OTHER for the groups folded past the limit, COMBINATION for a group of several breakdown properties (its `parts` give each value).',
});

@ObjectType({ description: 'Time from the previous step to this one, in seconds, over units that reached this step (percentiles interpolate between ranks).' })
export class StepDuration {
  @Field(() => Float)
  median: number;

  @Field(() => Float)
  p90: number;

  @Field(() => Float)
  average: number;
}

@ObjectType()
export class FunnelStepResult {
  @Field(() => Int, { description: 'Step number, from 1.' })
  index: number;

  @Field()
  label: string;

  @Field({ description: 'The step\'s event type.' })
  type: string;

  @Field(() => Int, { description: 'Units that reached at least this step (an optional step: units whose reported chain did it).' })
  count: number;

  @Field(() => Float, { description: 'count / previous step\'s count (1 for step 1 when it has units, 0 when the previous step is empty); with optional steps, the nearest earlier required step.' })
  conversionFromPrevious: number;

  @Field(() => Float, { description: 'count / step 1\'s count (0 when step 1 is empty).' })
  conversionFromFirst: number;

  @Field(() => Int, { description: 'Previous step\'s count minus this one\'s (0 for step 1); with optional steps, the nearest earlier required step\'s.' })
  dropOff: number;

  @Field(() => StepDuration, { nullable: true, description: 'Null for step 1, or when no unit reached this step.' })
  timeFromPrevious: StepDuration | null;
}

@ObjectType({ description: 'One breakdown property\'s value in a group (with `breakdowns`, one part per property, in the order given).' })
export class FunnelBreakdownPart {
  @Field({ description: 'The breakdown property, as given ("device", "itemId", "item.category").' })
  property: string;

  @Field({ description: 'As FunnelBreakdownGroup.key for this property alone.' })
  key: string;

  @Field({ description: 'As FunnelBreakdownGroup.group for this property alone.' })
  group: string;

  @Field(() => GraphQLJSON, { nullable: true, description: 'The value with its JSON type; null for JSON null and when missing.' })
  value: unknown;

  @Field(() => BreakdownValueType)
  valueType: BreakdownValueKind;
}

@ObjectType({
  description:
    'The funnel for the units whose step-1 event had one value of the breakdown property (with `breakdowns`, one combination of values of the properties). Values keep their JSON type: 10 and "10", true and "true", null and a missing key are different groups.',
})
export class FunnelBreakdownGroup {
  @Field({
    description:
      'A label for display, not unique: a string value as itself, any other value as JSON text (10, true, null, ["a"]), "(none)" when the event has no value, "other" for the folded rest. Tell groups apart by `key` or by `value` and `valueType`.',
  })
  group: string;

  @Field({
    description:
      'Unique per group and stable across queries: the value\'s JSON text (the string 10 has the key "10" with its quotes, the number 10 the key 10, JSON null the key null), "(missing)" when the event has no value, "(other)" for the folded rest. No JSON text starts with "(", so these never collide with a value.',
  })
  key: string;

  @Field(() => GraphQLJSON, { nullable: true, description: 'The value with its JSON type; null for JSON null and for the MISSING and OTHER groups (see valueType).' })
  value: unknown;

  @Field(() => BreakdownValueType)
  valueType: BreakdownValueKind;

  @Field({ description: 'True for the group that folds every group past the limit.' })
  isOther: boolean;

  @Field(() => [FunnelBreakdownPart], {
    description:
      'Each breakdown property\'s value for this group, in the order the properties were given (one part with `breakdown`; empty for the "other" group). With several properties, `group` joins the parts\' labels with " / ", `key` is the JSON array of their keys, `value` the list of their values and `valueType` COMBINATION.',
  })
  parts: FunnelBreakdownPart[];

  @Field(() => Int, { description: 'Units in the group (all of them entered the funnel).' })
  totalUnits: number;

  @Field(() => [FunnelStepResult])
  steps: FunnelStepResult[];
}

@ObjectType({ description: 'The same funnel over the compareTo range, judged as a funnel of its own over that range.' })
export class FunnelComparison {
  @Field(() => DateTimeResolver)
  from: Date;

  @Field(() => DateTimeResolver)
  to: Date;

  @Field(() => [FunnelStepResult])
  steps: FunnelStepResult[];

  @Field(() => Int, { description: 'Units with at least one event in the compareTo range, within the cohort.' })
  totalUnits: number;

  @Field(() => [FunnelBreakdownGroup], { nullable: true, description: 'As FunnelResult.breakdown, ranked within this range.' })
  breakdown: FunnelBreakdownGroup[] | null;
}

@ObjectType()
export class FunnelResult {
  @Field(() => [FunnelStepResult], {
    description: 'One per step. With optional steps, a step counts the units whose reported chain filled it, and conversionFromPrevious / dropOff compare with the nearest earlier required step.',
  })
  steps: FunnelStepResult[];

  @Field(() => Int, { description: 'Units (users or sessions) with at least one event in [from, to), within the cohort.' })
  totalUnits: number;

  @Field(() => [FunnelBreakdownGroup], {
    nullable: true,
    description: 'Present when a breakdown was asked for; ranked by step-1 count, "other" last. For a key with a privacy budget: the listed breakdown.values in their order, then "other" for every other unit.',
  })
  breakdown: FunnelBreakdownGroup[] | null;

  @Field(() => FunnelComparison, { nullable: true, description: 'Present when the input has compareTo: the funnel over that range.' })
  comparison: FunnelComparison | null;

  @Field(() => PrivacyNote, { nullable: true, description: 'Set for keys with a privacy budget: the counts are noisy and times are withheld (docs/privacy.md); null for exact answers.' })
  privacy?: PrivacyNote | null;
}

@ObjectType({ description: 'The whole funnel\'s conversion for units whose step-1 event falls in one period.' })
export class FunnelTrendPoint {
  @Field(() => DateTimeResolver)
  periodStart: Date;

  @Field(() => DateTimeResolver, { description: 'Exclusive; the first and last periods are cut to [from, to).' })
  periodEnd: Date;

  @Field(() => Int, { description: 'Units that reached step 1 in the period.' })
  entered: number;

  @Field(() => Int, { description: 'Of those, units that reached the last step (within the window, possibly after the period).' })
  converted: number;

  @Field(() => Float, { description: 'converted / entered; 0 when nobody entered.' })
  conversionRate: number;
}

@ObjectType({ description: 'Histogram bucket of durations, in seconds: [start, end), the last bucket including its end.' })
export class DurationBucket {
  @Field(() => Float)
  start: number;

  @Field(() => Float)
  end: number;

  @Field(() => Int)
  count: number;
}

@ObjectType({ description: 'How long units took from one step to another (reported chain), over units that reached toStep.' })
export class TimeToConvert {
  @Field(() => Int)
  fromStep: number;

  @Field(() => Int)
  toStep: number;

  @Field(() => Int)
  units: number;

  @Field(() => StepDuration, { nullable: true, description: 'Null when no unit reached toStep.' })
  summary: StepDuration | null;

  @Field(() => [DurationBucket], { description: 'Equal-width buckets from the shortest to the longest duration.' })
  buckets: DurationBucket[];
}

@ObjectType({ description: 'A unit that reached a step and went no further.' })
export class DroppedOffUnit {
  @Field(() => ID)
  userId: string;

  @Field(() => String, { nullable: true, description: 'Set when the funnel counts sessions.' })
  sessionId: string | null;

  @Field(() => DateTimeResolver, { description: 'When the unit\'s reported chain reached the step it stopped at.' })
  reachedAt: Date;
}

/** `droppedOff`: 100 units a page by default, at most 1000. */
export const DROPPED_OFF_PAGE: PageSize = { default: 100, max: 1000 };

@ObjectType('DroppedOffUnitConnection', { description: 'Units in a stable order: users as first seen by Funnelcast, then session ids.' })
export class DroppedOffUnitConnection extends ConnectionType('DroppedOffUnit', DroppedOffUnit) {
  @Field(() => Int, { description: totalCountDescription('Cheap: the funnel finds every unit that dropped off to order them.') })
  totalCount: number;
}

@ObjectType({ description: 'A funnel stored under a name, to be run again with another time range.' })
export class SavedFunnel {
  @Field(() => ID)
  id: string;

  @Field()
  name: string;

  @Field(() => GraphQLJSONObject, { description: 'The FunnelInput it was saved with.' })
  definition: Record<string, unknown>;

  @Field(() => DateTimeResolver)
  createdAt: Date;
}
