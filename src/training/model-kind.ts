import type { DataSource } from 'typeorm';
import { registerEnumType } from 'type-graphql';

/**
 * Every kind of model the platform trains. Adding one: a value here, a definition in its domain
 * listed in `src/model-kinds.ts` (the compiler then insists on it), and its score table in a migration.
 */
export enum ModelKind {
  MATRIX_FACTORIZATION = 'MATRIX_FACTORIZATION',
  POPULARITY = 'POPULARITY',
  ITEM_KNN = 'ITEM_KNN',
  SESSION_KNN = 'SESSION_KNN',
  SESSION_GRU = 'SESSION_GRU',
  ANOMALY_STATISTICAL = 'ANOMALY_STATISTICAL',
  ANOMALY_ISOLATION_FOREST = 'ANOMALY_ISOLATION_FOREST',
  ANOMALY_SUPERVISED = 'ANOMALY_SUPERVISED',
  NEXT_STEP = 'NEXT_STEP',
  PURCHASE_PROPENSITY = 'PURCHASE_PROPENSITY',
  RECOMMENDATION_BLEND = 'RECOMMENDATION_BLEND',
}
registerEnumType(ModelKind, {
  name: 'ModelKind',
  description:
    'MATRIX_FACTORIZATION: implicit-feedback recommender (implicit ALS by default, or BPR) writing each user’s top items. ' +
    'POPULARITY: time-decayed popularity, shop-wide and per category (the fallback of last resort). ' +
    'ITEM_KNN: item-to-item similarity from co-occurrence (similar items, bought together, fold-in for new users). ' +
    'SESSION_KNN: session-based k-nearest neighbours (V-SKNN): the live session’s next items from the most similar past sessions; the default session recommender. ' +
    'SESSION_GRU: a GRU over the session’s item sequence predicting the next item; served for sessions only while no SESSION_KNN version is active, and left out of trainAll unless its params are given. ' +
    'ANOMALY_STATISTICAL, ANOMALY_ISOLATION_FOREST, ANOMALY_SUPERVISED: bot and fake-order detectors writing each user’s anomaly score (see docs/anomalies.md). ' +
    'NEXT_STEP: GRU over a visit’s events predicting the next action (view, cart, checkout, purchase, exit), with a Markov baseline. PURCHASE_PROPENSITY: GRU plus recency/frequency/money features predicting a purchase within a horizon (users) or before a live visit ends, with a logistic baseline; writes every active user’s propensity. ' +
    'RECOMMENDATION_BLEND: how `recommendations` weighs its members (ITEM_KNN, MATRIX_FACTORIZATION, re-engagement), learned on held-out users per surface (default and exclude SEEN); trained after the recommenders.',
});

export const MODEL_KIND_NAMES = Object.values(ModelKind);

export enum TrainingJobState {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}
registerEnumType(TrainingJobState, {
  name: 'TrainingJobState',
  description: 'QUEUED (also while waiting for a retry), RUNNING, and the final COMPLETED, FAILED, CANCELLED.',
});

export enum ModelVersionStatus {
  TRAINING = 'TRAINING',
  READY = 'READY',
  ACTIVE = 'ACTIVE',
  FAILED = 'FAILED',
  RETIRED = 'RETIRED',
}
registerEnumType(ModelVersionStatus, {
  name: 'ModelVersionStatus',
  description: 'TRAINING, READY (may be activated), ACTIVE (served; one per kind), FAILED, RETIRED (scores dropped).',
});

/** BullMQ job names on the training queue and what each carries; payloads are ids only. */
export interface TrainingJobPayloads {
  /** Train the job row with this id. */
  train: { trainingJobId: string };
  /** A schedule fired: create a job row for it, then train it. */
  scheduled: { scheduleId: string };
}
export type TrainingJobName = keyof TrainingJobPayloads;

/** What the platform hands a model kind's `train`. */
export interface TrainingRun<Params> {
  dataSource: import('typeorm').DataSource;
  tf: import('../ml/tf-backend').Tf;
  backend: import('../ml/tf-backend').TfBackendInfo;
  params: Params;
  /**
   * The full scans of the event log (item events, histories, anomaly features), from PostgreSQL or
   * from ClickHouse's copy under FUNNELCAST_ANALYTICS=clickhouse (`trainingEventReaderOf`). Kinds
   * read events through this, never with their own SQL over `events`.
   */
  events: import('../training-events').TrainingEventReader;
  /** Training data range: events with from ≤ ts < to (from null: since the first event). */
  from: Date | null;
  to: Date;
  /**
   * Dense ids of users whose events the kind must leave out: the anomalous users when the kind
   * takes `excludeAnomalous` and it is on (the default), else empty. Fixed when the run starts.
   */
  excludedUsers: ReadonlySet<number>;
  /**
   * The params of the kind's ACTIVE version (completed with today's defaults) when they differ from
   * this run's, else null: a kind that evaluates on held-out users can train them on the same split
   * and require the new version to beat the active configuration too, a paired comparison.
   */
  activeParams?: Params | null;
  /** Reports progress (0–1) with a short message; throws TrainingCancelled once an admin cancelled the job. */
  progress(fraction: number, message: string): Promise<void>;
}

/** What a kind's `train` returns; the platform stores it in one transaction. */
export interface TrainedModel {
  artifact: Buffer;
  /** The evaluation on the time split (the model's and the popularity baseline's) and training facts. */
  metrics: Record<string, unknown>;
  eventCount: number;
  trainedFrom: Date | null;
  trainedTo: Date;
  /** Writes the kind's score rows for this version (COPY on the given client, inside the transaction). */
  writeScores(client: import('pg').PoolClient, modelVersionId: number): Promise<number>;
  /**
   * Whether the version may be activated automatically (a job with `activate`), and why: a kind
   * that compares its model with a baseline on held-out users says so here, and a version that
   * does not pass stays READY with the reason on its job. Absent: activated as before.
   */
  verdict?: { activate: boolean; reason: string };
}

/**
 * Advisory lock (PostgreSQL, transaction level) between erasing a user and storing a trained
 * version: an erasure holds it exclusively, storing a version shares it, so a version trained on
 * data read before an erasure is stored either before it (and cleaned by it) or after it (and
 * cleaned while stored: `UserData`).
 */
export const USER_ERASURE_LOCK = 0x46435f45; // "FC_E"

/**
 * How a kind's stored output holds users (dense `users.id`), so that erasing a user reaches it
 * (privacy/erasure.service.ts), and a version trained while a user was erased is stored without them.
 */
export interface UserData {
  /** The kind's score table has a `user_id` column. */
  scoresByUser?: boolean;
  /** The users that have a row in an artifact (a kind that stores one per user). */
  artifactUsers?(artifact: Buffer): ArrayLike<number>;
  /** The artifact without one user's row; null when it has none. */
  withoutUser?(artifact: Buffer, userId: number): Buffer | null;
}

export interface ModelKindDefinition<Params> {
  kind: ModelKind;
  /** Where its stored output names users; absent: nowhere (items, sessions without ids, weights). */
  userData?: UserData;
  /** The score table this kind writes, keyed by model_version_id; retiring a version empties it. Null: the artifact is all there is. */
  scoreTable: string | null;
  /** Validates and completes params; throws ParamsError with one message per problem. */
  parseParams(raw: unknown): Params;
  train(run: TrainingRun<Params>): Promise<TrainedModel>;
  /**
   * Why the kind cannot train on the stored data now, in a sentence saying what to do (null when it
   * can). `trainAll` skips a kind that answers; a kind without it is always tried. Cheap checks only
   * (a count), not a dry run.
   */
  unreadyReason?(dataSource: DataSource, params: Params): Promise<string | null>;
  /**
   * Kinds whose jobs `trainAll` lets finish before this one starts (it reads their ACTIVE
   * versions), on top of waiting for the detectors when it leaves out flagged users.
   */
  trainAfter?: readonly ModelKind[];
  /**
   * Set on a kind that `trainAll` leaves out unless its params name it (an optional, slow
   * alternative): why, in a sentence that says how to include it; the result's `skipped` carries it.
   */
  trainAllOptIn?: string;
}

/** One definition per kind: the mapped type makes a kind without a definition a compile error where the kinds are listed. */
export type ModelKindDefinitions = { [K in ModelKind]: ModelKindDefinition<any> };

/**
 * What the platform takes from the domains. Each domain defines its kinds; `src/model-kinds.ts`
 * composes them once, and the API, the worker, benchmarks and tests hand that to `TrainingRunner`
 * (its `kinds` to `ModelRegistry`), so training/ never imports a domain.
 */
export interface TrainingDomains {
  kinds: ModelKindDefinitions;
  /** Dense ids of the users that runs taking `excludeAnomalous` leave out: the ones the anomaly domain flags now. */
  anomalousUsers(dataSource: import('typeorm').DataSource): Promise<Set<number>>;
  /** The event reader a runner uses when given none: PostgreSQL's (src/training-events.ts). */
  events(dataSource: import('typeorm').DataSource): import('../training-events').TrainingEventReader;
}

/** At worker start: the compiler's check again, for anything that slips past it (a kind added to the database but not to the code). */
export function checkModelKindHandlers(definitions: ModelKindDefinitions, kinds: readonly string[] = Object.values(ModelKind)): void {
  const missing = kinds.filter((kind) => !(definitions as Record<string, ModelKindDefinition<unknown> | undefined>)[kind]);
  if (missing.length > 0) throw new Error(`No training handler for model kind(s) ${missing.join(', ')}; add them to MODEL_KINDS in src/model-kinds.ts.`);
}

export function modelKindDefinition(definitions: ModelKindDefinitions, kind: string): ModelKindDefinition<unknown> {
  const definition = (definitions as Record<string, ModelKindDefinition<unknown> | undefined>)[kind];
  if (!definition) throw new Error(`unknown model kind ${kind}`);
  return definition;
}
