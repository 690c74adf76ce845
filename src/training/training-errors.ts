import { UnrecoverableError } from 'bullmq';

/** The data cannot train this model (none in range, too few users); retrying would not help. */
export class TrainingDataError extends UnrecoverableError {
  constructor(message: string) {
    super(message);
    this.name = 'UnrecoverableError';
  }
}

/** An admin cancelled the job while it ran; the worker stops at the next progress report. */
export class TrainingCancelled extends UnrecoverableError {
  constructor() {
    super('cancelled by an admin');
    this.name = 'UnrecoverableError';
  }
}

/**
 * A training attempt failed in a way that another attempt would repeat (a data error PostgreSQL
 * refused, a bug, a model that cannot be stored): BullMQ fails the job at once instead of retrying.
 * The message is the original error's; the error itself is not kept, because BullMQ's sandbox copies
 * every own property to the worker (a failed query's would carry its parameters, score arrays included).
 */
export class TrainingFailedForGood extends UnrecoverableError {
  constructor(original: unknown) {
    super(original instanceof Error ? original.message : String(original));
    this.name = 'UnrecoverableError';
  }
}

/** Node's network error codes: the database or Redis went away or did not answer. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/**
 * SQLSTATE classes worth another attempt: 08 connection exception, 40 transaction rollback
 * (serialization failure, deadlock), 53 insufficient resources, 57 operator intervention (server
 * shutting down, query cancelled), 58 system error. Everything else PostgreSQL reports (22 data
 * exception such as `out of range for type real`, 23 integrity, 42 syntax) fails the same way again,
 * and so does 57014 (statement timeout: the same statement on the same data takes as long again).
 */
const TRANSIENT_SQLSTATE_CLASSES = new Set(['08', '40', '53', '57', '58']);
const LASTING_SQLSTATES = new Set(['57014']);

/**
 * Whether another attempt of a training job could succeed after `error`: true only for failures of
 * the machinery around training (a connection to PostgreSQL or Redis lost or refused, a server
 * shutting down, a deadlock, memory that could not be allocated now). Training itself is
 * deterministic for one data range and params, so any other error (a data exception, a bug, an
 * UnrecoverableError) would come back on every attempt; the runner fails those for good.
 */
export function isTransientFailure(error: unknown): boolean {
  if (!(error instanceof Error) || error instanceof UnrecoverableError || error.name === 'UnrecoverableError') return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return TRANSIENT_SQLSTATE_CLASSES.has(code.slice(0, 2)) && !LASTING_SQLSTATES.has(code);
  }
  // node-postgres and ioredis report a dropped connection without a code.
  if (/Connection terminated|connection (is )?closed|Connection is closed|timeout exceeded when trying to connect|MaxRetriesPerRequest/i.test(error.message)) return true;
  // A worker short of memory now may have it on the next attempt (another job finished meanwhile).
  if (/allocation failed|out of memory|could not allocate|Aborted\(OOM\)/i.test(error.message)) return true;
  return false;
}
