import { UnrecoverableError } from 'bullmq';
import type { DataSource } from 'typeorm';
import { Float4RangeError } from '../db/float4';
import { loadTf } from '../ml/tf-backend';
import { logger } from '../logger';
import { ModelRegistry } from './model-registry';
import { modelKindDefinition, type TrainingDomains } from './model-kind';
import { ParamsError } from './params';
import { isTransientFailure, TrainingCancelled, TrainingDataError, TrainingFailedForGood } from './training-errors';
import { scheduledRunRequestKey, TrainingJobs } from './training-jobs';
import type { TrainingEventReader } from '../training-events';

export interface RunOutcome {
  trainingJobId: string | null;
  outcome: 'completed' | 'skipped';
  modelVersionId?: number;
  /** The model kind trained (completed runs), for the worker's training metrics. */
  kind?: string;
}

/**
 * Runs one training job to the end: claim the row, validate params again (the API did, but a row
 * may be older than the code), train with progress reports that notice cancellation, and store the
 * result in one transaction. The sandboxed processor calls this; tests and benchmarks can too.
 * Failures that another attempt could survive (`isTransientFailure`: a lost connection) are rethrown
 * for BullMQ to retry; any other is rethrown as an UnrecoverableError, so the job fails at its first
 * attempt. The worker process records failures on the job row.
 */
export class TrainingRunner {
  private readonly jobs: TrainingJobs;
  private readonly registry: ModelRegistry;

  /**
   * `events` is where kinds read the event log from: the domains' (PostgreSQL) unless given (the sandboxed
   * processor passes `trainingEventReaderOf(config)`, ClickHouse under FUNNELCAST_ANALYTICS=clickhouse).
   */
  constructor(
    private readonly dataSource: DataSource,
    private readonly domains: TrainingDomains,
    private readonly events: TrainingEventReader = domains.events(dataSource),
  ) {
    this.jobs = new TrainingJobs(dataSource);
    this.registry = new ModelRegistry(dataSource, domains.kinds);
  }

  async run(trainingJobId: string, onProgress: (fraction: number) => Promise<void> = async () => undefined): Promise<RunOutcome> {
    const job = await this.jobs.claim(trainingJobId);
    if (!job) return { trainingJobId, outcome: 'skipped' }; // cancelled or finished meanwhile
    const definition = modelKindDefinition(this.domains.kinds, job.kind);
    let params: unknown;
    try {
      params = definition.parseParams(job.params);
    } catch (error) {
      if (error instanceof ParamsError) throw new UnrecoverableError(`Invalid params: ${error.message}`);
      throw error;
    }
    const excludedUsers =
      (params as { excludeAnomalous?: boolean }).excludeAnomalous === true
        ? await this.domains.anomalousUsers(this.dataSource)
        : new Set<number>();
    const activeParams = await this.activeParamsIfDifferent(job.kind, params, definition);
    const { tf, backend } = await loadTf();
    const versionId = await this.registry.beginVersion(job, backend.name);
    const started = performance.now();
    const log = logger().child({ trainingJobId, kind: job.kind, modelVersionId: versionId });
    log.info({ backend: backend.name, attempt: job.attempts, eventsFrom: this.events.engine }, 'training started');
    try {
      const trained = await definition.train({
        dataSource: this.dataSource,
        events: this.events,
        tf,
        backend,
        params,
        excludedUsers,
        activeParams,
        from: job.dataFrom,
        to: job.dataTo,
        progress: async (fraction, message) => {
          if (!(await this.jobs.reportProgress(trainingJobId, fraction, message))) throw new TrainingCancelled();
          await onProgress(fraction);
        },
      });
      trained.metrics.backend = { name: backend.name, detail: backend.detail };
      trained.metrics.excludedAnomalousUsers = excludedUsers.size;
      trained.metrics.eventsReadFrom = this.events.engine;
      await this.registry.completeVersion(job, versionId, trained, (performance.now() - started) / 1000);
      log.info({ seconds: (performance.now() - started) / 1000 }, 'training completed');
      return { trainingJobId, outcome: 'completed', modelVersionId: versionId, kind: job.kind };
    } catch (error) {
      log.warn({ err: error }, 'training attempt failed');
      await this.dataSource.query(`UPDATE model_versions SET status = 'FAILED' WHERE id = $1 AND status = 'TRAINING'`, [versionId]);
      // A score a real column cannot hold comes from the model, and another attempt trains the same model.
      if (error instanceof Float4RangeError) {
        throw new TrainingDataError(`the trained model cannot be stored: ${error.message}. Another attempt would train the same model; change its params or its data range.`);
      }
      // BullMQ retries only what another attempt could survive (a lost connection); the rest fails once.
      if (!isTransientFailure(error) && !(error instanceof UnrecoverableError)) throw new TrainingFailedForGood(error);
      throw error;
    }
  }

  /**
   * The ACTIVE version's params of `kind`, parsed (so defaults added since fill in), when they differ
   * from `params`; null when none is active, they are equal, or they no longer parse.
   */
  private async activeParamsIfDifferent(kind: string, params: unknown, definition: { parseParams(raw: unknown): unknown }): Promise<unknown> {
    const rows: { params: unknown }[] = await this.dataSource.query(`SELECT params FROM model_versions WHERE kind = $1 AND status = 'ACTIVE'`, [kind]);
    if (rows.length === 0) return null;
    let active: unknown;
    try {
      active = definition.parseParams(rows[0].params);
    } catch {
      return null;
    }
    return JSON.stringify(active) === JSON.stringify(params) ? null : active;
  }

  /** A schedule fired (BullMQ job `bullJobId`): create its job row once, then train it. */
  async runScheduled(scheduleId: string, bullJobId: string, onProgress?: (fraction: number) => Promise<void>): Promise<RunOutcome> {
    const schedules: { kind: string; params: Record<string, unknown> }[] = await this.dataSource.query(
      `SELECT kind, params FROM training_schedules WHERE id = $1`,
      [scheduleId],
    );
    if (schedules.length === 0) return { trainingJobId: null, outcome: 'skipped' }; // unscheduled meanwhile
    const { job } = await this.jobs.insertOrFind({
      requestKey: scheduledRunRequestKey(bullJobId),
      kind: schedules[0].kind,
      params: schedules[0].params,
      from: null,
      to: new Date(),
      activate: true,
      scheduleId,
    });
    return this.run(job.id, onProgress);
  }
}
