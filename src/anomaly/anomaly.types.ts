import { DateTimeResolver } from 'graphql-scalars';
import { Field, Float, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ConnectionType, totalCountDescription, type PageSize } from '../graphql/connection';
import { ID_RULE } from '../graphql/input-rules';

export enum UserLabelKind {
  BOT = 'BOT',
  FRAUD = 'FRAUD',
  GENUINE = 'GENUINE',
}
registerEnumType(UserLabelKind, { name: 'UserLabelKind', description: 'An admin’s verdict on a user: BOT (fake traffic), FRAUD (fake orders), GENUINE.' });

@ObjectType({ description: 'One detector’s part in a user’s ensemble score.' })
export class DetectorContribution {
  @Field({ description: 'STATISTICAL, ISOLATION_FOREST or SUPERVISED.' })
  detector: string;

  @Field(() => Float, { description: 'The detector’s own score in [0, 1].' })
  score: number;

  @Field(() => Float)
  weight: number;

  @Field(() => Float, { description: 'weight × score / Σ weights; the contributions add up to the ensemble score.' })
  contribution: number;

  @Field(() => Int, { description: 'The active model version that scored the user.' })
  modelVersionId: number;
}

@ObjectType({ description: 'A behaviour feature that broke the 3-sigma rule for this user.' })
export class AnomalyFinding {
  @Field()
  feature: string;

  @Field(() => Float)
  value: number;

  @Field(() => Float, { description: 'The median user’s value.' })
  median: number;

  @Field(() => Float, { description: 'Robust z-score (median/MAD) in the suspicious direction.' })
  z: number;

  @Field({ description: 'In plain words, e.g. "412 events within 5 minutes, 40× the median (10)".' })
  text: string;
}

@ObjectType({ description: 'One UTC day of a user, as the detectors scored it.' })
export class AnomalyDay {
  @Field({ description: 'The UTC day, e.g. "2026-01-05".' })
  day: string;

  @Field(() => Float, { description: 'Ensemble score of the day in [0, 1].' })
  score: number;

  @Field(() => [AnomalyFinding], { description: 'The features that made the day stand out, strongest first, naming the day.' })
  findings: AnomalyFinding[];

  @Field(() => DateTimeResolver, { description: 'The user’s first event of the day.' })
  firstEventAt: Date;

  @Field(() => DateTimeResolver)
  lastEventAt: Date;
}

@ObjectType({ description: 'The ingest guard marked this user as soon as their events arrived.' })
export class IngestGuardMark {
  @Field(() => DateTimeResolver, { description: 'Events from this instant on are suspect.' })
  since: Date;

  @Field(() => Int)
  peakEventsPerMinute: number;
}

@ObjectType()
export class UserLabel {
  @Field()
  userId: string;

  @Field(() => UserLabelKind)
  label: UserLabelKind;

  @Field(() => String, { nullable: true })
  note: string | null;

  @Field(() => DateTimeResolver)
  labelledAt: Date;
}

@ObjectType({ description: 'How anomalous a user looks, and why.' })
export class UserRisk {
  @Field()
  userId: string;

  @Field(() => Float, {
    description: 'Ensemble score in [0, 1] of the user’s worst day (in the listed range, for `anomalies`): per day the weighted mean of the active detectors’ scores; 0 when none scored the user.',
  })
  score: number;

  @Field({ description: 'score ≥ the threshold (some day is), or marked by the ingest guard.' })
  flagged: boolean;

  @Field(() => String, { nullable: true, description: 'The UTC day behind `score`, e.g. "2026-01-05"; null when no detector scored the user.' })
  worstDay: string | null;

  @Field(() => [AnomalyDay], { description: 'Every day scored at or above the threshold, oldest first.' })
  flaggedDays: AnomalyDay[];

  @Field(() => [AnomalyDay], {
    description: 'Every day the active detectors scored, flagged or not, oldest first (the user’s risk by day; in the listed range, for `anomalies`). A day the user had no events is not scored and not listed.',
  })
  scoredDays: AnomalyDay[];

  @Field(() => [DetectorContribution], { description: 'The detectors’ parts in the worst day’s score.' })
  contributions: DetectorContribution[];

  @Field(() => [AnomalyFinding], { description: 'The features that made the worst day stand out, strongest first.' })
  findings: AnomalyFinding[];

  @Field(() => IngestGuardMark, { nullable: true })
  ingestGuard: IngestGuardMark | null;

  @Field(() => UserLabel, { nullable: true, description: 'The admin’s label, if any.' })
  label: UserLabel | null;

  @Field(() => DateTimeResolver, { nullable: true, description: 'First event of the user on the scored days.' })
  firstEventAt: Date | null;

  @Field(() => DateTimeResolver, { nullable: true })
  lastEventAt: Date | null;
}

/** `anomalies`: 50 users a page by default, at most 500. */
export const ANOMALY_PAGE: PageSize = { default: 50, max: 500 };
/** `userLabels`: 50 labels a page by default, at most 500. */
export const USER_LABEL_PAGE: PageSize = { default: 50, max: 500 };

@ObjectType('UserRiskConnection', { description: 'Anomalous users, highest worst-day score first, then users in the order Funnelcast first saw them.' })
export class UserRiskConnection extends ConnectionType('UserRisk', UserRisk) {
  @Field(() => Int, { description: totalCountDescription('Cheap: ranking by score scores every candidate user of the range anyway.') })
  totalCount: number;

  @Field(() => Float, { description: 'The minimum score used.' })
  minScore: number;
}

@ObjectType('UserLabelConnection', { description: 'Admin labels, newest first, then users in the order Funnelcast first saw them.' })
export class UserLabelConnection extends ConnectionType('UserLabel', UserLabel) {
  @Field(() => Int, { description: totalCountDescription('Cheap: labels are set by hand, one per user, and the page query reads them all to sort them.') })
  totalCount: number;
}

@ObjectType({ description: 'How much of a time range’s traffic comes from flagged users.' })
export class FlaggedTraffic {
  @Field(() => Float)
  threshold: number;

  @Field(() => Int, { description: 'Users with events in the range who are flagged.' })
  users: number;

  @Field(() => Int, { description: 'Their events in the range.' })
  events: number;

  @Field(() => Float, { description: 'events / all events in the range (0 when there are none).' })
  eventShare: number;

  @Field(() => Int, { description: 'Events the ingest guard marked suspect (a subset of `events`).' })
  suspectEvents: number;
}

@InputType()
export class LabelUserInput {
  @Field({ description: `The shop’s own user id (${ID_RULE}).` })
  userId: string;

  @Field(() => UserLabelKind)
  label: UserLabelKind;

  @Field(() => String, { nullable: true })
  note?: string | null;
}

