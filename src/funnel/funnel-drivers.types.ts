import { GraphQLJSON } from 'graphql-scalars';
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { PropertyFilterInput } from './funnel.input';

export enum DriverFactorKind {
  STEP_PROPERTY = 'stepProperty',
  HOUR_OF_DAY = 'hourOfDay',
  EVENT_TYPE = 'eventType',
  USER_PROPERTY = 'userProperty',
  COHORT = 'cohort',
}
registerEnumType(DriverFactorKind, {
  name: 'DriverFactorKind',
  description:
    "STEP_PROPERTY: a property of the unit's step event (its reported chain's); HOUR_OF_DAY: the 6-hour part of the UTC day of that event; EVENT_TYPE: an event of that type between the step and the next (up to the end of the window for units that dropped off); USER_PROPERTY: a stored user property; COHORT: the unit's user is in that named cohort (options.cohorts), against the rest.",
});

/** Named cohorts funnelDrivers may test at most. */
export const MAX_DRIVER_COHORTS = 10;
/** Ids one drivers cohort may list: its definition travels in each driver's factor code (droppedOff). */
export const MAX_DRIVER_COHORT_USER_IDS = 1_000;

@InputType({ description: 'A named cohort tested as one driver factor: a list of ids, filters on user properties, or both (all must hold), as FunnelInput.cohort.' })
export class DriverCohortInput {
  @Field({ description: 'Names the factor (its key; the label reads "in cohort <name>"): 1–64 characters, unique among options.cohorts.' })
  name: string;

  @Field(() => [ID], { nullable: true, description: `The shop's user ids (at most ${MAX_DRIVER_COHORT_USER_IDS.toLocaleString('en-US')}: the definition travels in the driver's factor code; use userProperties for larger cohorts).` })
  userIds?: string[] | null;

  @Field(() => [PropertyFilterInput], { nullable: true, description: "Filters on the user's stored properties." })
  userProperties?: PropertyFilterInput[] | null;
}

@InputType({ description: 'What funnelDrivers tests and how strictly; every field has a default.' })
export class FunnelDriversOptions {
  @Field(() => [String], {
    nullable: true,
    description: 'Properties of the step event to test (at most 20). Default: the keys found on the latest 1,000 events of the step\'s type.',
  })
  properties?: string[] | null;

  @Field(() => [String], { nullable: true, description: 'Stored user properties to test (at most 20). Default: none.' })
  userProperties?: string[] | null;

  @Field(() => [DriverCohortInput], {
    nullable: true,
    description: `Named cohorts to test (at most ${MAX_DRIVER_COHORTS}, names unique), each as one factor: units whose user is in it against the rest. Default: none.`,
  })
  cohorts?: DriverCohortInput[] | null;

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

  @Field(() => Int, {
    nullable: true,
    defaultValue: 200,
    description:
      'Model drivers: units explained on each side (dropped off, went on), at most; a deterministic sample (the units with the smallest hash of user and session id) when more reached the step. 0–500; 0 leaves model drivers out.',
  })
  modelSample?: number | null;
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

  @Field({ description: 'The property key, the event type, the cohort\'s name for COHORT, or "utc" for HOUR_OF_DAY.' })
  key: string;

  @Field(() => GraphQLJSON, { nullable: true, description: 'The property value with its JSON type; the first hour of the part of the day for HOUR_OF_DAY; "member" for COHORT; null for a missing value, a band or an event type.' })
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

@ObjectType({ description: 'One feature group of the purchase-propensity model, averaged over the explained units on each side of the step.' })
export class ModelDriver {
  @Field({ description: 'The feature group, as explanations name it ("device", "time since last purchase", "recent events (the sequence)", …).' })
  feature: string;

  @Field(() => Float, { description: 'Mean contribution over the explained units that dropped off at the step (probability points, −1 to 1).' })
  meanDroppedOff: number;

  @Field(() => Float, { description: 'Mean contribution over the explained units that reached the next step.' })
  meanConverted: number;

  @Field(() => Float, { description: 'meanDroppedOff − meanConverted: below 0, the model says this group holds the dropped-off units back compared with those that went on.' })
  difference: number;

  @Field(() => Float, { description: '95 % bootstrap percentile interval of the difference (1,000 resamples of each side\'s units, fixed seed).' })
  differenceLow: number;

  @Field(() => Float)
  differenceHigh: number;
}

@ObjectType({
  description:
    "Model-based drivers: the ACTIVE PURCHASE_PROPENSITY version's live-visit model explains each sampled unit at its step event (occlusion: the calibrated propensity minus the propensity with the feature group set to its training average), and the contributions are averaged on each side. Empty, with a reason, when no model can explain.",
})
export class ModelDrivers {
  @Field(() => ID, { nullable: true, description: 'The PURCHASE_PROPENSITY version that explained; null when none did.' })
  modelVersionId: number | null;

  @Field(() => String, { nullable: true, description: 'Why features is empty (no ACTIVE model, modelSample 0, no unit on one side); null when it is not.' })
  reason: string | null;

  @Field(() => String, { nullable: true, description: 'What a contribution is, with its source.' })
  method: string | null;

  @Field(() => Int, { description: 'options.modelSample: units explained on each side, at most.' })
  sampleLimit: number;

  @Field(() => Int, { description: 'Units that reached the step and dropped off (reached − converted).' })
  droppedOffUnits: number;

  @Field(() => Int, { description: 'Units that reached the step and went on (converted).' })
  convertedUnits: number;

  @Field(() => Int, { description: 'Dropped-off units explained: min(sampleLimit, droppedOffUnits), less any whose events are gone.' })
  droppedOffExplained: number;

  @Field(() => Int)
  convertedExplained: number;

  @Field(() => Float, { nullable: true, description: "Mean of the model's calibrated propensity over the explained dropped-off units." })
  meanPropensityDroppedOff: number | null;

  @Field(() => Float, { nullable: true })
  meanPropensityConverted: number | null;

  @Field(() => [ModelDriver], { description: 'Every feature group, the most holding-back first (difference ascending).' })
  features: ModelDriver[];
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

  @Field(() => ModelDrivers, { description: "What the purchase-propensity model says holds the dropped-off units back (docs/funnels.md, \"Model drivers\")." })
  modelDrivers: ModelDrivers;
}
