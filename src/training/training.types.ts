import { DateTimeResolver, JSONObjectResolver } from 'graphql-scalars';
import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import { ModelKind, ModelVersionStatus, TrainingJobState } from './model-kind';

@ObjectType('ModelVersion', { description: 'One trained model. Resolvers serve the ACTIVE version of each kind.' })
export class ModelVersionView {
  @Field(() => ID)
  id: number;

  @Field(() => ModelKind)
  kind: ModelKind;

  @Field(() => Int, { description: '1, 2, 3, … per kind.' })
  version: number;

  @Field(() => ModelVersionStatus)
  status: ModelVersionStatus;

  @Field(() => JSONObjectResolver, { description: 'The validated params with every default filled in.' })
  params: Record<string, unknown>;

  @Field(() => JSONObjectResolver, {
    nullable: true,
    description: 'evaluation (the model and a popularity baseline on the same time split), training facts, backend.',
  })
  metrics: Record<string, unknown> | null;

  @Field({ description: 'TensorFlow.js backend it was trained on: node-gpu, node, wasm or cpu.' })
  backend: string;

  @Field(() => DateTimeResolver, { nullable: true })
  trainedFrom: Date | null;

  @Field(() => DateTimeResolver)
  trainedTo: Date;

  @Field(() => Float, { nullable: true, description: 'Events the stored model was trained on.' })
  eventCount: number | null;

  @Field(() => DateTimeResolver)
  createdAt: Date;

  @Field(() => DateTimeResolver, { nullable: true })
  activatedAt: Date | null;

  @Field(() => Float, { nullable: true })
  trainingSeconds: number | null;
}

@ObjectType('TrainingJob', { description: 'Poll it (trainingJob(id)) until state is COMPLETED, FAILED or CANCELLED.' })
export class TrainingJobView {
  @Field(() => ID)
  id: string;

  @Field(() => ModelKind)
  kind: ModelKind;

  @Field(() => TrainingJobState)
  state: TrainingJobState;

  @Field(() => Float, { description: '0 to 1, updated every epoch.' })
  progress: number;

  @Field(() => String, { nullable: true, description: 'What it is doing now, e.g. "fitting before the split: epoch 3/20, loss 0.4123".' })
  message: string | null;

  @Field(() => Int, { description: 'Attempts started so far (a retry or a resumed job adds one).' })
  attempts: number;

  @Field(() => String, { nullable: true, description: 'Why the last attempt failed.' })
  error: string | null;

  @Field(() => JSONObjectResolver)
  params: Record<string, unknown>;

  @Field(() => DateTimeResolver, { nullable: true })
  dataFrom: Date | null;

  @Field(() => DateTimeResolver)
  dataTo: Date;

  @Field()
  activate: boolean;

  @Field(() => ModelVersionView, { nullable: true, description: 'The version this job trains (TRAINING while it runs).' })
  modelVersion: ModelVersionView | null;

  @Field(() => [ID], {
    description:
      'Training jobs this one starts after (trainAll: the anomaly detectors, for the models that leave out the users they flag). While any of them is QUEUED or RUNNING this job stays QUEUED; it starts once all have finished, in any state. Empty for most jobs.',
  })
  waitsFor: string[];

  @Field(() => DateTimeResolver)
  createdAt: Date;

  @Field(() => DateTimeResolver, { nullable: true })
  startedAt: Date | null;

  @Field(() => DateTimeResolver, { nullable: true })
  finishedAt: Date | null;
}

@ObjectType('TrainingJobConnection')
export class TrainingJobConnectionView {
  @Field(() => [TrainingJobView], { description: 'Newest first.' })
  nodes: TrainingJobView[];

  @Field(() => String, { nullable: true, description: 'Pass as `after` for the next page.' })
  endCursor: string | null;

  @Field()
  hasNextPage: boolean;
}

@ObjectType('TrainingSchedule')
export class TrainingScheduleView {
  @Field(() => ID)
  id: string;

  @Field(() => ModelKind)
  kind: ModelKind;

  @Field({ description: 'Cron pattern in UTC, e.g. "0 3 * * *".' })
  cron: string;

  @Field(() => JSONObjectResolver)
  params: Record<string, unknown>;

  @Field(() => DateTimeResolver)
  createdAt: Date;
}

@InputType()
export class TrainModelInput {
  @Field(() => ModelKind)
  kind: ModelKind;

  @Field(() => JSONObjectResolver, { nullable: true, description: 'Kind-specific parameters; anything left out takes its default.' })
  params?: Record<string, unknown> | null;

  @Field(() => DateTimeResolver, { nullable: true, description: 'Train on events from this instant (default: the first event).' })
  from?: Date | null;

  @Field(() => DateTimeResolver, {
    nullable: true,
    description: 'Train on events before this instant (default: now; a kind then ends its range, splits and horizons at the last event, so a shop whose events stopped a while ago trains as it is).',
  })
  to?: Date | null;

  @Field({ defaultValue: true, description: 'Serve the new version as soon as it is READY.' })
  activate: boolean;
}

@InputType()
export class TrainAllInput {
  @Field(() => JSONObjectResolver, {
    nullable: true,
    description: 'Params by kind, e.g. { SESSION_GRU: { epochs: 8 } }; a kind left out, or a param left out, takes its defaults.',
  })
  params?: Record<string, unknown> | null;

  @Field(() => DateTimeResolver, { nullable: true, description: 'Every job trains on events from this instant (default: the first event).' })
  from?: Date | null;

  @Field(() => DateTimeResolver, { nullable: true, description: 'Every job trains on events before this instant (default: now, which each kind ends at its last event).' })
  to?: Date | null;

  @Field({ defaultValue: true, description: 'Serve each new version as soon as it is READY.' })
  activate: boolean;
}

@ObjectType('SkippedTraining', { description: 'A kind trainAll left out, and what would let it train.' })
export class SkippedTrainingView {
  @Field(() => ModelKind)
  kind: ModelKind;

  @Field({ description: 'Why, and what to do about it.' })
  reason: string;
}

@ObjectType('TrainAllResult')
export class TrainAllResultView {
  @Field(() => [TrainingJobView], {
    description: 'One job per kind, in the order they start: the anomaly detectors first, then the models that wait for them (see TrainingJob.waitsFor).',
  })
  jobs: TrainingJobView[];

  @Field(() => [SkippedTrainingView], { description: 'Kinds that cannot train on the stored data yet.' })
  skipped: SkippedTrainingView[];
}
