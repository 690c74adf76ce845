import { isUuid } from '../uuid';
import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { config } from '../config';
import { checkFirst, connectionOf, type Connection } from '../graphql/connection';
import { cursorCodec } from '../graphql/cursor';
import { badInput, notFound, UserFacingError } from '../graphql/errors';
import { ModelKind, ModelKindDefinitions, MODEL_KIND_NAMES, modelKindDefinition, TrainingJobState } from './model-kind';
import { queueReleasedJobs } from './queue-reconciler';
import { ModelRegistry } from './model-registry';
import { canonicalJson, ParamsError } from './params';
import { trainingInputFingerprint } from './training-input';
import { TrainingJobs } from './training-jobs';
import type { TrainingQueue } from './training.queue';
import { TRAINING_JOB_PAGE } from './training.types';
import { ModelVersion, TrainingJob, TrainingSchedule } from './training.entities';

export interface TrainModelRequest {
  kind: ModelKind;
  params?: unknown;
  from?: Date | null;
  to?: Date | null;
  activate?: boolean;
}

/** `trainAll`'s request: the range and activation of every job, and params by kind (anything left out takes its defaults). */
export interface TrainAllRequest {
  params?: unknown;
  from?: Date | null;
  to?: Date | null;
  activate?: boolean;
}

/** What `trainAll` queued, in the order the kinds start, and the kinds it left out with why. */
export interface TrainAllResult {
  jobs: TrainingJobWithVersion[];
  skipped: { kind: ModelKind; reason: string }[];
}

export interface TrainingJobWithVersion extends TrainingJob {
  modelVersion: ModelVersion | null;
}

/** `trainingJobs` pages by creation time to the microsecond (newest first), then job id (descending). */
const trainingJobCursor = cursorCodec('trainingJobs', { createdAt: 'instant', id: 'uuid' });

function checkKind(kind: string): ModelKind {
  if (!MODEL_KIND_NAMES.includes(kind as ModelKind)) throw badInput(`kind must be one of ${MODEL_KIND_NAMES.join(', ')} (got ${JSON.stringify(kind)})`);
  return kind as ModelKind;
}

function checkId(id: string, what: string): string {
  if (!isUuid(id)) throw badInput(`"${id}" is not a ${what} id (a UUID)`);
  return id;
}

function parseParamsFor(kinds: ModelKindDefinitions, kind: ModelKind, raw: unknown): Record<string, unknown> {
  try {
    return modelKindDefinition(kinds, kind).parseParams(raw) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof ParamsError) throw badInput(`Invalid ${kind} params: ${error.message}`, { problems: error.problems });
    throw error;
  }
}

/**
 * Firings looked at to find a pattern's shortest gap. A pattern's firings are the product of its
 * fields' value sets, so its closest pair of firings shows up within one round of its finest
 * field, which has at most 60 values. (cron-parser takes about 1 ms a firing, 12 ms for leap days.)
 */
const CRON_FIRINGS_CHECKED = 64;

/**
 * A cron pattern BullMQ will run (5 fields, or 6 with seconds first), whose firings are never less
 * than `minIntervalSeconds` apart among its next CRON_FIRINGS_CHECKED firings (UTC). Training a
 * model takes from seconds to minutes and each run activates a version, so a pattern firing every
 * second would queue work faster than it can be done.
 */
export function checkCron(cron: string, minIntervalSeconds: number): string {
  const trimmed = cron.trim();
  // BullMQ reads patterns with cron-parser; asking it here gives the admin its own error message.
  const { parseExpression } = require('cron-parser') as {
    parseExpression(pattern: string, options: { utc: boolean; currentDate: Date }): { next(): { getTime(): number } };
  };
  let firings: { next(): { getTime(): number } };
  try {
    if (trimmed.split(/\s+/).length < 5) throw new Error('it needs 5 fields (minute hour day month weekday) or 6 with seconds first');
    firings = parseExpression(trimmed, { utc: true, currentDate: new Date() });
  } catch (error) {
    throw badInput(`cron ${JSON.stringify(cron)} is not a valid cron pattern: ${(error as Error).message}. Example: "0 3 * * *" (every day at 03:00 UTC).`);
  }
  let previous = Number.NaN;
  for (let n = 0; n < CRON_FIRINGS_CHECKED; n++) {
    let at: number;
    try {
      at = firings.next().getTime();
    } catch {
      break; // no more firings (a pattern that ends)
    }
    if (at - previous < minIntervalSeconds * 1000) {
      throw badInput(
        `cron ${JSON.stringify(cron)} fires ${describeGap((at - previous) / 1000)} apart at its closest; training schedules must be at least ${describeGap(minIntervalSeconds)} apart ` +
          `(FUNNELCAST_TRAINING_MIN_INTERVAL_SECONDS). Example: "0 3 * * *" (every day at 03:00 UTC).`,
      );
    }
    previous = at;
  }
  return trimmed;
}

function describeGap(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} hour${seconds === 3600 ? '' : 's'}`;
  if (seconds % 60 === 0) return `${seconds / 60} minute${seconds === 60 ? '' : 's'}`;
  return `${seconds} second${seconds === 1 ? '' : 's'}`;
}

/**
 * Training as the API offers it: enqueue (idempotently), cancel, retry, schedule, and read jobs.
 * PostgreSQL holds each job's state, so reads and cancellation work without Redis; queueing and
 * schedules need Redis and fail with SERVICE_UNAVAILABLE when it is away.
 */
export class TrainingService {
  readonly jobs: TrainingJobs;

  private readonly minScheduleIntervalSeconds: number;

  /** `options.minScheduleIntervalSeconds`: the shortest gap between a schedule's firings (default 3600). */
  constructor(
    private readonly dataSource: DataSource,
    /** The BullMQ side; the API's queue dashboard and metrics read it too. */
    readonly queue: TrainingQueue,
    private readonly registry: ModelRegistry,
    options: { minScheduleIntervalSeconds?: number } = {},
  ) {
    this.jobs = new TrainingJobs(dataSource);
    this.minScheduleIntervalSeconds = options.minScheduleIntervalSeconds ?? 3600;
  }

  /**
   * Queues a training job, or returns the QUEUED, RUNNING or COMPLETED job of the same request on
   * the same data (`training-input.ts` says what "the same data" covers). Throws BAD_USER_INPUT for an
   * unknown kind, invalid params, `to` in the future or `from` not before `to`, and SERVICE_UNAVAILABLE
   * when Redis does not answer (a job row inserted for the request is deleted again).
   */
  async trainModel(request: TrainModelRequest, options: { waitsFor?: readonly string[] } = {}): Promise<TrainingJobWithVersion> {
    const kind = checkKind(request.kind);
    const params = parseParamsFor(this.registry.kinds, kind, request.params);
    const now = new Date();
    const to = request.to ?? now;
    const from = request.from ?? null;
    if (to.getTime() > now.getTime() + 60_000) throw badInput('to lies in the future; leave it out to train on everything up to now');
    if (from && !(from.getTime() < to.getTime())) throw badInput('from must be earlier than to');
    const activate = request.activate ?? true;
    // The request's identity includes what it would train on (training-input.ts), so the same request
    // over changed data (late events in a past range, a catalogue change, new labels) trains again,
    // and over unchanged data returns the job that trained on it. Without an explicit end, the range
    // is "everything so far": every event from `from` on counts, and the job's own `to` stays the
    // time of the first such request.
    // A job that waits for others (trainAll's behaviour models wait for the detectors) is known by
    // those jobs instead of by today's flagged users: the flags it will read are theirs, so asking
    // again while the same detector jobs stand returns the same job rather than training anew.
    const waitsFor = [...(options.waitsFor ?? [])].sort();
    const readsFlags = (params as { excludeAnomalous?: unknown }).excludeAnomalous === true && waitsFor.length === 0;
    const input = await trainingInputFingerprint(this.dataSource, { from, to: request.to ? to : null }, readsFlags);
    const requestKey = createHash('sha256')
      .update(
        canonicalJson({
          kind,
          params,
          from: from?.toISOString() ?? null,
          to: request.to ? to.toISOString() : 'open',
          activate,
          ...(waitsFor.length ? { waitsFor } : {}),
          input: { ...input, anomalyThreshold: input.flagged === null ? null : config().anomalyThreshold },
        }),
      )
      .digest('hex');
    const { job, created } = await this.jobs.insertOrFind({ requestKey, kind, params, from, to, activate, scheduleId: null, waitsFor: options.waitsFor });
    // A job that waits for others is queued by whoever finishes the last of them (the row is
    // committed before this check, so a finish after it sees the row and queues it).
    if ((created || job.state === TrainingJobState.QUEUED) && !(await this.jobs.isHeld(job.id))) {
      try {
        // Also for an existing QUEUED job: the API may have died between its insert and this add.
        await this.queue.add('train', { trainingJobId: job.id }, job.id);
      } catch (error) {
        if (created) await this.jobs.delete(job.id);
        throw error;
      }
    }
    return this.withVersion(job);
  }

  async cancel(id: string): Promise<TrainingJobWithVersion> {
    checkId(id, 'training job');
    const cancelled = await this.jobs.cancel(id);
    if (!cancelled) {
      const job = await this.jobs.get(id);
      if (!job) throw notFound(`No training job with id ${id}`);
      throw badInput(`Training job ${id} is already ${job.state}; only QUEUED or RUNNING jobs can be cancelled.`);
    }
    // Tidy the queue when Redis is there; a worker that still gets the job skips it (its row is CANCELLED).
    await this.queue.removeUnlessActive(id).catch(() => undefined);
    // Jobs that waited for this one go ahead (the next reconciliation does it if Redis is away now).
    await this.releaseWaiting().catch(() => undefined);
    return this.withVersion(cancelled);
  }

  async retry(id: string): Promise<TrainingJobWithVersion> {
    checkId(id, 'training job');
    const job = await this.jobs.get(id);
    if (!job) throw notFound(`No training job with id ${id}`);
    if (job.state !== TrainingJobState.FAILED && job.state !== TrainingJobState.CANCELLED) {
      throw badInput(`Training job ${id} is ${job.state}; only FAILED or CANCELLED jobs can be retried.`);
    }
    if (!(await this.queue.removeUnlessActive(id))) {
      throw new UserFacingError('BAD_USER_INPUT', `Training job ${id} is still stopping on a worker; try again in a few seconds.`);
    }
    let requeued: TrainingJob | null;
    try {
      requeued = await this.jobs.requeue(id);
    } catch (error) {
      if ((error as { code?: string }).code === '23505') {
        throw badInput(`An identical training request is already queued, running or completed; see trainingJobs(kind: ${job.kind}).`);
      }
      throw error;
    }
    if (!requeued) throw badInput(`Training job ${id} changed state meanwhile; look at it again.`);
    if (await this.jobs.isHeld(id)) return this.withVersion(requeued); // queued when the jobs it waits for finish
    try {
      await this.queue.add('train', { trainingJobId: id }, id);
    } catch (error) {
      await this.jobs.recordAttemptFailure(id, 'could not be queued again: Redis did not answer', true);
      throw error;
    }
    return this.withVersion(requeued);
  }

  /**
   * Queues every model kind in the order that gives right models: first the kinds that read all
   * users (the anomaly detectors), then, waiting for them, the kinds that leave out the users they
   * flag (those whose params have `excludeAnomalous: true`; the default for every behaviour model).
   * A waiting job starts once each job it waits for has finished, whatever its outcome (a failed
   * detector leaves the earlier flags in place). Each job is an ordinary `trainModel` request, so
   * asking again over unchanged data returns the same jobs. A kind whose `unreadyReason` answers
   * (ANOMALY_SUPERVISED without enough labels) is skipped with the reason, and so is a kind with
   * `trainAllOptIn` (SESSION_GRU) unless `params` names it.
   *
   * `params` maps a kind name to its params, e.g. `{ SESSION_GRU: { epochs: 8 } }`. Throws
   * BAD_USER_INPUT for an unknown kind or invalid params (before anything is queued), and what
   * `trainModel` throws.
   */
  async trainAll(request: TrainAllRequest = {}): Promise<TrainAllResult> {
    const rawParams = request.params ?? {};
    if (typeof rawParams !== 'object' || rawParams === null || Array.isArray(rawParams)) {
      throw badInput('params must be an object of params by kind, e.g. { "SESSION_GRU": { "epochs": 8 } }');
    }
    for (const key of Object.keys(rawParams)) checkKind(key);
    const byKind = rawParams as Record<string, unknown>;
    const planned = MODEL_KIND_NAMES.map((kind) => ({ kind, params: parseParamsFor(this.registry.kinds, kind, byKind[kind]) }));
    const waits = (params: Record<string, unknown>) => params.excludeAnomalous === true;
    const skipped: TrainAllResult['skipped'] = [];
    const ready: typeof planned = [];
    for (const plan of planned) {
      const optIn = modelKindDefinition(this.registry.kinds, plan.kind).trainAllOptIn;
      if (optIn && !Object.hasOwn(byKind, plan.kind)) {
        skipped.push({ kind: plan.kind, reason: optIn });
        continue;
      }
      const reason = (await modelKindDefinition(this.registry.kinds, plan.kind).unreadyReason?.(this.dataSource, plan.params)) ?? null;
      if (reason === null) ready.push(plan);
      else skipped.push({ kind: plan.kind, reason });
    }
    const range = { from: request.from, to: request.to, activate: request.activate };
    const jobs: TrainingJobWithVersion[] = [];
    const after = (plan: (typeof ready)[number]) => modelKindDefinition(this.registry.kinds, plan.kind).trainAfter ?? [];
    for (const plan of ready.filter((p) => !waits(p.params) && after(p).length === 0)) jobs.push(await this.trainModel({ kind: plan.kind, params: plan.params, ...range }));
    const firstStage = jobs.map((job) => job.id);
    for (const plan of ready.filter((p) => waits(p.params) && after(p).length === 0)) jobs.push(await this.trainModel({ kind: plan.kind, params: plan.params, ...range }, { waitsFor: firstStage }));
    // Last, the kinds that read other kinds' ACTIVE versions (RECOMMENDATION_BLEND): after those kinds' jobs (and the detectors).
    for (const plan of ready.filter((p) => after(p).length > 0)) {
      const waitsFor = [...firstStage, ...jobs.filter((job) => after(plan).includes(job.kind)).map((job) => job.id)];
      jobs.push(await this.trainModel({ kind: plan.kind, params: plan.params, ...range }, { waitsFor: [...new Set(waitsFor)] }));
    }
    return { jobs, skipped };
  }

  /** How many training workers are connected to the queue; throws SERVICE_UNAVAILABLE without Redis. */
  workerCount(): Promise<number> {
    return this.queue.workerCount();
  }

  /** Queues the jobs whose prerequisites have all finished (see `queueReleasedJobs`). */
  private releaseWaiting(): Promise<number> {
    return queueReleasedJobs(this.dataSource, (id) => this.queue.add('train', { trainingJobId: id }, id));
  }

  async schedule(kind: string, cron: string, rawParams: unknown): Promise<TrainingSchedule> {
    const checkedKind = checkKind(kind);
    const params = parseParamsFor(this.registry.kinds, checkedKind, rawParams);
    const pattern = checkCron(cron, this.minScheduleIntervalSeconds);
    const [row] = await this.dataSource.query(`INSERT INTO training_schedules (kind, cron, params) VALUES ($1, $2, $3) RETURNING id`, [
      checkedKind,
      pattern,
      JSON.stringify(params),
    ]);
    try {
      await this.queue.upsertSchedule(row.id, pattern);
    } catch (error) {
      await this.dataSource.query(`DELETE FROM training_schedules WHERE id = $1`, [row.id]);
      throw error;
    }
    return (await this.dataSource.getRepository(TrainingSchedule).findOneBy({ id: row.id }))!;
  }

  async unschedule(id: string): Promise<TrainingSchedule> {
    checkId(id, 'training schedule');
    const schedule = await this.dataSource.getRepository(TrainingSchedule).findOneBy({ id });
    if (!schedule) throw notFound(`No training schedule with id ${id}`);
    await this.queue.removeSchedule(id);
    await this.dataSource.query(`DELETE FROM training_schedules WHERE id = $1`, [id]);
    return schedule;
  }

  schedules(): Promise<TrainingSchedule[]> {
    return this.dataSource.getRepository(TrainingSchedule).find({ order: { createdAt: 'ASC' } });
  }

  async get(id: string): Promise<TrainingJobWithVersion | null> {
    checkId(id, 'training job');
    const job = await this.jobs.get(id);
    return job ? this.withVersion(job) : null;
  }

  /**
   * Jobs (only those in `state` / of `kind` when given), newest first: a page of at most `first`
   * (1–100, default 20) after the cursor `after`. No total count: the page reads `first` + 1 rows
   * along an index, where counting would read every job ever queued. BAD_USER_INPUT for `first`
   * out of range or a cursor that is not this list's.
   */
  async list(filter: { state?: TrainingJobState | null; kind?: ModelKind | null; first?: number | null; after?: string | null }): Promise<Connection<TrainingJobWithVersion>> {
    const first = filter.first ?? TRAINING_JOB_PAGE.default;
    checkFirst(first, TRAINING_JOB_PAGE);
    const rows = await this.jobs.list({
      state: filter.state ?? undefined,
      kind: filter.kind ?? undefined,
      first: first + 1,
      after: trainingJobCursor.decodeAfter(filter.after),
    });
    const pageIds = rows.slice(0, first).map(({ job }) => job.id);
    const versions = new Map((await this.registry.forJobs(pageIds)).map((v) => [v.trainingJobId, v]));
    return connectionOf(
      trainingJobCursor,
      rows,
      first,
      ({ job, createdAtKey }) => ({ createdAt: createdAtKey, id: job.id }),
      ({ job }) => ({ ...job, modelVersion: versions.get(job.id) ?? null }),
    );
  }

  /** Closes the queue handle (the Redis connection itself belongs to the app). */
  close(): Promise<void> {
    return this.queue.close();
  }

  private async withVersion(job: TrainingJob): Promise<TrainingJobWithVersion> {
    const [version] = await this.registry.forJobs([job.id]);
    return { ...job, modelVersion: version ?? null };
  }
}
