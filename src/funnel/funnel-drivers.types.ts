import { GraphQLJSON } from 'graphql-scalars';
import { Field, Float, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum DriverFactorKind {
  STEP_PROPERTY = 'stepProperty',
  HOUR_OF_DAY = 'hourOfDay',
  EVENT_TYPE = 'eventType',
  USER_PROPERTY = 'userProperty',
}
registerEnumType(DriverFactorKind, {
  name: 'DriverFactorKind',
  description:
    "STEP_PROPERTY: a property of the unit's step event (its reported chain's); HOUR_OF_DAY: the 6-hour part of the UTC day of that event; EVENT_TYPE: an event of that type between the step and the next (up to the end of the window for units that dropped off); USER_PROPERTY: a stored user property.",
});

@InputType({ description: 'What funnelDrivers tests and how strictly; every field has a default.' })
export class FunnelDriversOptions {
  @Field(() => [String], {
    nullable: true,
    description: 'Properties of the step event to test (at most 20). Default: the keys found on the latest 1,000 events of the step\'s type.',
  })
  properties?: string[] | null;

  @Field(() => [String], { nullable: true, description: 'Stored user properties to test (at most 20). Default: none.' })
  userProperties?: string[] | null;

  @Field(() => Boolean, { nullable: true, defaultValue: true, description: 'Test the event types done between the step and the next.' })
  eventTypes?: boolean | null;

  @Field(() => Boolean, { nullable: true, defaultValue: true, description: 'Test the part of the UTC day of the step event.' })
  hourOfDay?: boolean | null;

  @Field(() => Int, { nullable: true, defaultValue: 30, description: 'Units with the factor, and units without it, must each number at least this many (1–1,000,000).' })
  minSupport?: number | null;

  @Field(() => Float, { nullable: true, defaultValue: 0.05, description: 'False discovery rate (Benjamini–Hochberg) under which a factor counts as a driver, in (0, 1).' })
  alpha?: number | null;

  @Field(() => Int, { nullable: true, defaultValue: 10, description: 'Drivers listed on each side (1–100).' })
  top?: number | null;
}

@ObjectType({ description: 'How to open the units a driver holds back: droppedOff(input: <the same input>, afterStep, factor).' })
export class DriverDroppedOffArgs {
  @Field(() => Int)
  afterStep: number;

  @Field({ description: 'The driver\'s factor, for droppedOff\'s factor argument.' })
  factor: string;

  @Field(() => Int, { description: 'The totalCount that list has (the driver\'s dropOffsWith), while no new events arrive.' })
  count: number;
}

@ObjectType({ description: 'A factor associated with converting from the step to the next one (odds ratio > 1) or with dropping off (< 1).' })
export class FunnelDriver {
  @Field({ description: 'Opaque and stable: pass it to droppedOff\'s factor argument.' })
  factor: string;

  @Field(() => DriverFactorKind)
  kind: DriverFactorKind;

  @Field({ description: 'The property key, the event type, or "utc" for HOUR_OF_DAY.' })
  key: string;

  @Field(() => GraphQLJSON, { nullable: true, description: 'The property value with its JSON type; the first hour of the part of the day for HOUR_OF_DAY; null for a missing value, a band or an event type.' })
  value: unknown;

  @Field({ description: 'True when the factor is "the property is not set".' })
  missing: boolean;

  @Field(() => Float, { nullable: true, description: 'A numeric band [rangeLow, rangeHigh) (quartiles of a property with many numeric values).' })
  rangeLow: number | null;

  @Field(() => Float, { nullable: true, description: 'Null for the last band (no upper end) and for factors that are not bands.' })
  rangeHigh: number | null;

  @Field({ description: 'For display, e.g. "device = mobile", "price in [12, 40)", "did fav between the steps".' })
  label: string;

  @Field(() => Int, { description: 'Units with the factor that reached the next step.' })
  convertersWith: number;

  @Field(() => Int, { description: 'Units with the factor that stopped at the step.' })
  dropOffsWith: number;

  @Field(() => Int)
  convertersWithout: number;

  @Field(() => Int)
  dropOffsWithout: number;

  @Field(() => Float, { description: 'convertersWith / (convertersWith + dropOffsWith).' })
  conversionWith: number;

  @Field(() => Float)
  conversionWithout: number;

  @Field(() => Float, { description: 'Odds of converting with the factor over the odds without it; ½ is added to every cell when one is 0.' })
  oddsRatio: number;

  @Field(() => Float, { description: "95 % confidence interval, Woolf's log method." })
  oddsRatioLow: number;

  @Field(() => Float)
  oddsRatioHigh: number;

  @Field(() => Float, { description: "Fisher's exact test, two-sided." })
  pValue: number;

  @Field(() => Float, { description: 'Benjamini–Hochberg q-value over every factor tested.' })
  qValue: number;

  @Field({ description: 'qValue ≤ alpha.' })
  significant: boolean;

  @Field(() => DriverDroppedOffArgs)
  droppedOff: DriverDroppedOffArgs;
}

@ObjectType({ description: 'Conversion drivers from one step to the next.' })
export class FunnelDrivers {
  @Field(() => Int)
  step: number;

  @Field(() => Int, { description: 'Units that reached the step.' })
  reached: number;

  @Field(() => Int, { description: 'Of those, units that reached the next step.' })
  converted: number;

  @Field(() => Int, { description: 'Factors tested (the number the correction accounts for).' })
  tested: number;

  @Field(() => Int, { description: 'Factors left untested: fewer than minSupport units with them or without them.' })
  belowSupport: number;

  @Field(() => [FunnelDriver], { description: 'Significant factors with odds ratio above 1, highest first.' })
  positive: FunnelDriver[];

  @Field(() => [FunnelDriver], { description: 'Significant factors with odds ratio below 1, lowest first.' })
  negative: FunnelDriver[];

  @Field(() => [FunnelDriver], { description: 'Every factor tested, significant or not, highest odds ratio first.' })
  factors: FunnelDriver[];
}
