import { availableParallelism } from 'node:os';
import { cleanEnv, EnvError, makeValidator, str } from 'envalid';
import proxyaddr from 'proxy-addr';

/**
 * The one place that reads the environment. Every variable is validated once (envalid), with a
 * message that names the variable, the value given (unless it may hold a secret) and what a valid
 * value looks like.
 */
export type AnalyticsEngineName = 'inprocess' | 'clickhouse';
export const ANALYTICS_ENGINES: readonly AnalyticsEngineName[] = ['inprocess', 'clickhouse'];

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  /** PostgreSQL connection string; undefined means "find one" (the demo may start an embedded server). */
  databaseUrl: string | undefined;
  redisUrl: string;
  port: number;
  host: string;
  logLevel: LogLevel;
  bootstrapAdminKey: string | undefined;
  /** Largest accepted `ingestEvents` batch. */
  maxIngestBatch: number;
  /** ingestEvents refuses events older than this many days (TOO_OLD): each month is a partition, made on demand (FUNNELCAST_INGEST_MAX_PAST_DAYS). */
  ingestMaxPastDays: number;
  /** Largest accepted HTTP request body with a valid API key, in bytes. */
  maxBodyBytes: number;
  /** Largest accepted body of a request without a valid API key (none, or refused), in bytes; at most maxBodyBytes. */
  maxAnonymousBodyBytes: number;
  /** Most values (array entries and object members, at any depth) one parsed request body may hold. */
  maxBodyValues: number;
  maxQueryDepth: number;
  maxQueryComplexity: number;
  /** Aliased fields in one operation (fragments counted each time they are spread). */
  maxQueryAliases: number;
  /** Lexical tokens in one GraphQL document; bounds parse and validation work. */
  maxQueryTokens: number;
  /** Directives in one operation (fragments counted each time they are spread). */
  maxQueryDirectives: number;
  /** Requests per second per API key; 0 turns the limit off. */
  rateLimitPerKey: number;
  /** Requests per second per client address; 0 turns the limit off. */
  rateLimitPerAddress: number;
  /** Failed authentications per minute per client address before it gets 429; 0 turns it off. */
  authFailuresPerMinute: number;
  /** How long a request waits for Redis to count it against the rate limits before this process's in-memory count decides, in ms. */
  rateLimitRedisTimeoutMs: number;
  /** A request body that sends nothing for this long is answered 408, in milliseconds. */
  bodyTimeoutMs: number;
  /** Origins whose web pages may call the API (CORS): exact origins, or ['*'] for any; empty: none. */
  corsOrigins: string[];
  /**
   * Proxies (addresses, CIDR ranges, or loopback / linklocal / uniquelocal) whose X-Forwarded-For is
   * believed when rate limits ask for the client's address; empty: the socket's address, always.
   */
  trustedProxies: string[];
  /** Largest serialised `properties` object of one event, in bytes. */
  maxEventPropertiesBytes: number;
  /** `auto` tries node-gpu, node, wasm, cpu in that order; a name forces that backend (FUNNELCAST_TF_BACKEND). */
  tfBackend: TfBackendPreference;
  /** Training jobs one worker process runs at once, each in its own sandboxed process. */
  trainingConcurrency: number;
  /** Shortest time between two firings of a training schedule, in seconds (FUNNELCAST_TRAINING_MIN_INTERVAL_SECONDS). */
  trainingMinIntervalSeconds: number;
  /** Load the funnel engine's in-process event mirror right after start instead of on the first funnel query. */
  warmFunnelMirror: boolean;
  /** Prefix of every BullMQ key in Redis, so several deployments (or test files) can share one Redis. */
  queuePrefix: string;
  /** How long a worker's lock on a running job lasts; a job whose worker died is retried once it expires. */
  trainingLockMs: number;
  /** How often the worker rebuilds missing BullMQ jobs and job schedulers from PostgreSQL (also at start). */
  queueReconcileMs: number;
  /** Ensemble anomaly score from which a user counts as anomalous (lists, exclusion, stats). */
  anomalyThreshold: number;
  /** Events within any 60 seconds above which the ingest guard marks a user suspect at once; 0 turns it off. */
  ingestGuardEventsPerMinute: number;
  /** Users' recommendation lists kept for reuse while their events and the models are unchanged; 0 turns it off. */
  recommendationCacheSize: number;
  /** Secret that signs recommendation ids (FUNNELCAST_RECOMMENDATION_SECRET); unset: one generated once and kept in PostgreSQL. */
  recommendationSecret: string | undefined;
  /** Time limit of one funnel field (funnel, funnelTrend, timeToConvert, droppedOff, runSavedFunnel), queueing included, in ms. */
  funnelTimeoutMs: number;
  /** Worker threads computing funnels off the event loop; 0 computes them on the main thread. */
  funnelWorkers: number;
  /** Which engine answers analyses: the in-process mirror (default) or ClickHouse (FUNNELCAST_ANALYTICS; docs/analytics-store.md). */
  analytics: AnalyticsEngineName;
  /** Embedded ClickHouse (chdb): its on-disk data folder; used when no FUNNELCAST_CLICKHOUSE_URL is set. */
  clickhousePath: string;
  /**
   * Embedded ClickHouse for training processes: their own copy of the events, since a chdb folder
   * is held by one process (the API holds FUNNELCAST_CLICKHOUSE_PATH). Default: that path + `-training`.
   */
  clickhouseTrainingPath: string;
  /** A ClickHouse server (http(s)://host:8123); when set, it is used instead of embedded chdb. */
  clickhouseUrl: string | undefined;
  clickhouseUser: string;
  clickhousePassword: string;
  clickhouseDatabase: string;
  /** Events per insert when the sync copies PostgreSQL's events into ClickHouse. */
  clickhouseSyncBatch: number;
  /** Pause between two catch-ups of the ClickHouse sync loop, in milliseconds. */
  clickhouseSyncIntervalMs: number;
  /** Days `event_deletions` keeps a deleted event for the ClickHouse sync; a copy further behind must be copied afresh. */
  clickhouseDeletionLogDays: number;
  /**
   * Events (in a funnel's range) per slice of users that one ClickHouse query reads and the API
   * process evaluates before the next (clickhouse-funnels.ts): bounds both sides' memory per query.
   */
  clickhouseSliceEvents: number;
  /** Days an erased user's id stays refused at ingest and import (FUNNELCAST_ERASURE_TOMBSTONE_DAYS). */
  erasureTombstoneDays: number;
  /** How often each API process looks for erasures made by others, in ms (FUNNELCAST_ERASURE_POLL_MS); retention runs are looked for as often. */
  erasurePollMs: number;
  /**
   * Days events are kept (FUNNELCAST_RETENTION_DAYS); unset: kept for ever. Events go by whole UTC
   * months, so an event is kept at least this long and at most a month longer (docs/privacy.md).
   */
  retentionDays: number | undefined;
  /** Days recommendation feedback is kept (FUNNELCAST_FEEDBACK_RETENTION_DAYS); default: FUNNELCAST_RETENTION_DAYS. */
  feedbackRetentionDays: number | undefined;
  /** HMAC key that replaces user ids before they are stored (FUNNELCAST_PSEUDONYMIZE_KEY); unset: ids stored as sent. */
  pseudonymizeKey: string | undefined;
  /** Funnels over at least this many events run split across all funnel workers at once (funnel-split.ts). */
  funnelSplitEvents: number;
  /**
   * Distinct `properties` objects the funnel event mirror keeps as one dictionary-coded column, so the
   * first use of any property key is derived in memory instead of read from PostgreSQL. Past this
   * many the mirror drops that column and reads each key from PostgreSQL on its first use.
   */
  funnelMirrorPropsLimit: number;
  /** How long `health` / `/healthz` wait for PostgreSQL's and Redis's answer before calling it degraded, in ms. */
  healthTimeoutMs: number;
  /** Bearer token `/metrics` requires wherever it is served (FUNNELCAST_METRICS_TOKEN); with it, the API port serves `/metrics` too. */
  metricsToken: string | undefined;
  /**
   * The API's separate metrics listener (FUNNELCAST_METRICS_PORT, on metricsHost); 0 picks a free
   * port; null: none. Unset, it is DEFAULT_METRICS_PORT unless a metrics token is set.
   */
  metricsPort: number | null;
  /** True when metricsPort is the default rather than asked for: a taken port then only turns the listener off, with a warning. */
  metricsPortIsDefault: boolean;
  /** The worker process's metrics listener (FUNNELCAST_WORKER_METRICS_PORT, on metricsHost); null: none. */
  workerMetricsPort: number | null;
  workerMetricsPortIsDefault: boolean;
  /** Address the metrics listeners bind (FUNNELCAST_METRICS_HOST): loopback unless told otherwise. */
  metricsHost: string;
  /** Distinct GraphQL operation names kept as metric labels per process; later ones count as `other`. */
  metricsMaxOperations: number;
}

/** Where the API serves `/metrics` when neither FUNNELCAST_METRICS_PORT nor FUNNELCAST_METRICS_TOKEN is set (the OpenTelemetry Prometheus exporter's port). */
export const DEFAULT_METRICS_PORT = 9464;
/** Where the worker serves its `/metrics` unless FUNNELCAST_WORKER_METRICS_PORT says otherwise. */
export const DEFAULT_WORKER_METRICS_PORT = 9465;

export const TF_BACKEND_PREFERENCES = ['auto', 'node-gpu', 'node', 'wasm', 'cpu'] as const;
export type TfBackendPreference = (typeof TF_BACKEND_PREFERENCES)[number];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Variables whose value may hold a password or a secret: a problem names them but never repeats their value. */
const SECRET = new Set(['DATABASE_URL', 'REDIS_URL', 'FUNNELCAST_BOOTSTRAP_ADMIN_KEY', 'FUNNELCAST_RECOMMENDATION_SECRET', 'FUNNELCAST_METRICS_TOKEN', 'FUNNELCAST_CLICKHOUSE_URL', 'FUNNELCAST_CLICKHOUSE_PASSWORD', 'FUNNELCAST_PSEUDONYMIZE_KEY']);

// Each validator's message says what a valid value looks like; the report puts the variable's name
// (and, unless it is secret, the value given) in front of it.

const wholeNumber = (min: number, max: number) =>
  makeValidator<number>((raw) => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) throw new EnvError(`must be a whole number from ${min} to ${max}`);
    return value;
  });

const share = makeValidator<number>((raw) => {
  const value = Number(raw);
  if (!(value > 0 && value <= 1)) throw new EnvError('must be a number above 0 and at most 1');
  return value;
});

const trueOrFalse = makeValidator<boolean>((raw) => {
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new EnvError('must be true or false');
});

const oneOf = <T extends string>(choices: readonly T[]) =>
  makeValidator<T>((raw) => {
    if (!(choices as readonly string[]).includes(raw)) throw new EnvError(`must be one of ${choices.join(', ')}`);
    return raw as T;
  });

const urlOf = (protocols: string[]) =>
  makeValidator<string>((raw) => {
    let protocol: string;
    try {
      protocol = new URL(raw).protocol;
    } catch {
      throw new EnvError(`is not a URL; expected e.g. ${protocols[0]}//host:port/…`);
    }
    if (!protocols.includes(protocol)) throw new EnvError(`must start with ${protocols.map((p) => `${p}//`).join(' or ')} (got ${protocol}//…)`);
    return raw;
  });

const atLeast = (length: number, hint = '') =>
  makeValidator<string>((raw) => {
    if (raw.length < length) throw new EnvError(`must be at least ${length} characters long${hint}`);
    return raw;
  });

const matching = (pattern: RegExp, form: string) =>
  makeValidator<string>((raw) => {
    if (!pattern.test(raw)) throw new EnvError(`must be ${form}`);
    return raw;
  });

/** A port (0: any free one) or `off`. */
const portOrOff = makeValidator<number | 'off'>((raw) => {
  if (raw === 'off') return 'off';
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new EnvError('must be a port from 0 to 65535 (0: any free port) or off');
  return value;
});

const listOf = (raw: string): string[] => raw.split(',').map((part) => part.trim()).filter(Boolean);

/** `*`, or a comma-separated list of origins such as `https://shop.example,http://localhost:3000`. */
const origins = makeValidator<string[]>((raw) => {
  if (raw.trim() === '*') return ['*'];
  const valid: string[] = [];
  const invalid: string[] = [];
  for (const entry of listOf(raw)) {
    let origin: string | undefined;
    try {
      const url = new URL(entry);
      if ((url.protocol === 'http:' || url.protocol === 'https:') && url.origin === entry.replace(/\/$/, '')) origin = url.origin;
    } catch {
      // reported below
    }
    if (origin) valid.push(origin);
    else invalid.push(JSON.stringify(entry));
  }
  if (invalid.length > 0) throw new EnvError(`has ${invalid.join(', ')}, not origins; expected * or e.g. https://shop.example,http://localhost:3000`);
  return valid;
});

/** What proxy-addr accepts: addresses, CIDR ranges, or the names loopback, linklocal, uniquelocal. */
const proxies = makeValidator<string[]>((raw) => {
  const entries = listOf(raw);
  try {
    proxyaddr.compile(entries);
  } catch (error) {
    throw new EnvError(`is not a list of proxies (${(error as Error).message}); expected addresses, CIDR ranges or loopback, linklocal, uniquelocal, e.g. 10.0.0.0/8,loopback`);
  }
  return entries;
});

function environmentSpec(env: NodeJS.ProcessEnv) {
  const inTests = env.NODE_ENV === 'test' || env.JEST_WORKER_ID !== undefined;
  return {
    DATABASE_URL: urlOf(['postgres:', 'postgresql:'])({ default: undefined }),
    REDIS_URL: urlOf(['redis:', 'rediss:'])({ default: 'redis://127.0.0.1:6379' }),
    LOG_LEVEL: oneOf(LOG_LEVELS)({ default: inTests ? 'silent' : 'info' }),
    FUNNELCAST_BOOTSTRAP_ADMIN_KEY: atLeast(16)({ default: undefined }),
    FUNNELCAST_TF_BACKEND: oneOf(TF_BACKEND_PREFERENCES)({ default: 'auto' }),
    FUNNELCAST_QUEUE_PREFIX: matching(/^[A-Za-z0-9_.-]{1,64}$/, '1–64 letters, digits or _ . -')({ default: 'funnelcast' }),
    FUNNELCAST_RECOMMENDATION_SECRET: atLeast(32, ' (e.g. openssl rand -base64 32)')({ default: undefined }),
    FUNNELCAST_MAX_BODY_BYTES: wholeNumber(1024, 1024 * 1024 * 1024)({ default: 16 * 1024 * 1024 }),
    // Unset, it follows a lower FUNNELCAST_MAX_BODY_BYTES down (below); set above it, it is a mistake.
    FUNNELCAST_MAX_ANONYMOUS_BODY_BYTES: wholeNumber(1024, 1024 * 1024 * 1024)({ default: undefined }),
    PORT: wholeNumber(0, 65535)({ default: 4000 }),
    HOST: str({ default: '0.0.0.0' }),
    FUNNELCAST_MAX_INGEST_BATCH: wholeNumber(1, 100_000)({ default: 5000 }),
    FUNNELCAST_INGEST_MAX_PAST_DAYS: wholeNumber(1, 36_500)({ default: 730 }),
    FUNNELCAST_MAX_BODY_VALUES: wholeNumber(1000, 100_000_000)({ default: 500_000 }),
    FUNNELCAST_MAX_QUERY_DEPTH: wholeNumber(2, 100)({ default: 12 }),
    FUNNELCAST_MAX_QUERY_COMPLEXITY: wholeNumber(10, 1_000_000)({ default: 2000 }),
    FUNNELCAST_MAX_QUERY_ALIASES: wholeNumber(1, 10_000)({ default: 30 }),
    FUNNELCAST_MAX_QUERY_TOKENS: wholeNumber(100, 10_000_000)({ default: 5000 }),
    FUNNELCAST_MAX_QUERY_DIRECTIVES: wholeNumber(1, 10_000)({ default: 50 }),
    FUNNELCAST_RATE_LIMIT_PER_KEY: wholeNumber(0, 1_000_000)({ default: 1000 }),
    FUNNELCAST_RATE_LIMIT_PER_ADDRESS: wholeNumber(0, 1_000_000)({ default: 1000 }),
    FUNNELCAST_AUTH_FAILURES_PER_MINUTE: wholeNumber(0, 1_000_000)({ default: 30 }),
    FUNNELCAST_RATE_LIMIT_REDIS_TIMEOUT_MS: wholeNumber(1, 60_000)({ default: 250 }),
    FUNNELCAST_BODY_TIMEOUT_MS: wholeNumber(100, 600_000)({ default: 10_000 }),
    FUNNELCAST_CORS_ORIGINS: origins({ default: [] }),
    FUNNELCAST_TRUSTED_PROXIES: proxies({ default: [] }),
    FUNNELCAST_MAX_EVENT_PROPERTIES_BYTES: wholeNumber(64, 1024 * 1024)({ default: 16 * 1024 }),
    FUNNELCAST_TRAINING_CONCURRENCY: wholeNumber(1, 64)({ default: 1 }),
    FUNNELCAST_TRAINING_MIN_INTERVAL_SECONDS: wholeNumber(1, 31_622_400)({ default: 3600 }),
    FUNNELCAST_FUNNEL_WARMUP: trueOrFalse({ default: true }),
    FUNNELCAST_TRAINING_LOCK_MS: wholeNumber(1000, 600_000)({ default: 30_000 }),
    FUNNELCAST_QUEUE_RECONCILE_MS: wholeNumber(1000, 3_600_000)({ default: 30_000 }),
    FUNNELCAST_ANOMALY_THRESHOLD: share({ default: 0.5 }),
    FUNNELCAST_INGEST_GUARD_EVENTS_PER_MINUTE: wholeNumber(0, 1_000_000)({ default: 120 }),
    FUNNELCAST_RECOMMENDATION_CACHE_SIZE: wholeNumber(0, 10_000_000)({ default: 20_000 }),
    FUNNELCAST_FUNNEL_TIMEOUT_MS: wholeNumber(1, 3_600_000)({ default: 30_000 }),
    FUNNELCAST_HEALTH_TIMEOUT_MS: wholeNumber(10, 120_000)({ default: 2000 }),
    FUNNELCAST_FUNNEL_WORKERS: wholeNumber(0, 256)({ default: availableParallelism() }),
    FUNNELCAST_FUNNEL_SPLIT_EVENTS: wholeNumber(0, 2_000_000_000)({ default: 200_000 }),
    FUNNELCAST_MIRROR_PROPS_LIMIT: wholeNumber(0, 100_000_000)({ default: 1_000_000 }),
    FUNNELCAST_METRICS_TOKEN: atLeast(16, ' (e.g. openssl rand -hex 24)')({ default: undefined }),
    FUNNELCAST_METRICS_PORT: portOrOff({ default: undefined }),
    FUNNELCAST_WORKER_METRICS_PORT: portOrOff({ default: undefined }),
    FUNNELCAST_METRICS_HOST: str({ default: '127.0.0.1' }),
    FUNNELCAST_METRICS_MAX_OPERATIONS: wholeNumber(1, 10_000)({ default: 100 }),
    FUNNELCAST_ANALYTICS: oneOf(ANALYTICS_ENGINES)({ default: 'inprocess' }),
    FUNNELCAST_CLICKHOUSE_PATH: str({ default: './clickhouse-data' }),
    FUNNELCAST_CLICKHOUSE_TRAINING_PATH: str({ default: undefined }),
    FUNNELCAST_CLICKHOUSE_URL: urlOf(['http:', 'https:'])({ default: undefined }),
    FUNNELCAST_CLICKHOUSE_USER: str({ default: 'default' }),
    FUNNELCAST_CLICKHOUSE_PASSWORD: str({ default: '' }),
    FUNNELCAST_CLICKHOUSE_DATABASE: matching(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'a ClickHouse database name (letters, digits, _)')({ default: 'funnelcast' }),
    FUNNELCAST_CLICKHOUSE_SYNC_BATCH: wholeNumber(1, 10_000_000)({ default: 100_000 }),
    FUNNELCAST_CLICKHOUSE_SYNC_INTERVAL_MS: wholeNumber(10, 3_600_000)({ default: 1000 }),
    FUNNELCAST_CLICKHOUSE_DELETION_LOG_DAYS: wholeNumber(1, 3650)({ default: 7 }),
    FUNNELCAST_CLICKHOUSE_SLICE_EVENTS: wholeNumber(1, 2_000_000_000)({ default: 1_000_000 }),
    FUNNELCAST_ERASURE_TOMBSTONE_DAYS: wholeNumber(1, 3650)({ default: 30 }),
    FUNNELCAST_ERASURE_POLL_MS: wholeNumber(50, 600_000)({ default: 1000 }),
    FUNNELCAST_RETENTION_DAYS: wholeNumber(1, 36_500)({ default: undefined }),
    FUNNELCAST_FEEDBACK_RETENTION_DAYS: wholeNumber(1, 36_500)({ default: undefined }),
    FUNNELCAST_PSEUDONYMIZE_KEY: atLeast(32, ' (e.g. openssl rand -base64 32)')({ default: undefined }),
  };
}

/** Validates every variable with envalid and reports all problems at once; an empty variable counts as unset. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const spec = environmentSpec(env);
  const given: Record<string, string> = {};
  for (const name of Object.keys(spec)) {
    const raw = env[name];
    if (raw !== undefined && raw !== '') given[name] = raw;
  }
  if (env.NODE_ENV !== undefined) given.NODE_ENV = env.NODE_ENV;
  const problems: string[] = [];
  const read = cleanEnv(given, spec, {
    reporter: ({ errors }) => {
      for (const [name, error] of Object.entries(errors)) {
        if (!error) continue;
        problems.push(SECRET.has(name) ? `${name} ${error.message}` : `${name}=${JSON.stringify(given[name])} ${error.message}`);
      }
    },
  });
  const maxBodyBytes = read.FUNNELCAST_MAX_BODY_BYTES;
  const maxAnonymousBodyBytes = read.FUNNELCAST_MAX_ANONYMOUS_BODY_BYTES ?? Math.min(64 * 1024, maxBodyBytes);
  if (maxAnonymousBodyBytes > maxBodyBytes) {
    problems.push(`FUNNELCAST_MAX_ANONYMOUS_BODY_BYTES=${maxAnonymousBodyBytes} must not exceed FUNNELCAST_MAX_BODY_BYTES (${maxBodyBytes})`);
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    databaseUrl: read.DATABASE_URL,
    redisUrl: read.REDIS_URL,
    port: read.PORT,
    host: read.HOST,
    logLevel: read.LOG_LEVEL,
    bootstrapAdminKey: read.FUNNELCAST_BOOTSTRAP_ADMIN_KEY,
    maxIngestBatch: read.FUNNELCAST_MAX_INGEST_BATCH,
    ingestMaxPastDays: read.FUNNELCAST_INGEST_MAX_PAST_DAYS,
    maxBodyBytes,
    maxAnonymousBodyBytes,
    maxBodyValues: read.FUNNELCAST_MAX_BODY_VALUES,
    maxQueryDepth: read.FUNNELCAST_MAX_QUERY_DEPTH,
    maxQueryComplexity: read.FUNNELCAST_MAX_QUERY_COMPLEXITY,
    maxQueryAliases: read.FUNNELCAST_MAX_QUERY_ALIASES,
    maxQueryTokens: read.FUNNELCAST_MAX_QUERY_TOKENS,
    maxQueryDirectives: read.FUNNELCAST_MAX_QUERY_DIRECTIVES,
    rateLimitPerKey: read.FUNNELCAST_RATE_LIMIT_PER_KEY,
    rateLimitPerAddress: read.FUNNELCAST_RATE_LIMIT_PER_ADDRESS,
    authFailuresPerMinute: read.FUNNELCAST_AUTH_FAILURES_PER_MINUTE,
    rateLimitRedisTimeoutMs: read.FUNNELCAST_RATE_LIMIT_REDIS_TIMEOUT_MS,
    bodyTimeoutMs: read.FUNNELCAST_BODY_TIMEOUT_MS,
    corsOrigins: read.FUNNELCAST_CORS_ORIGINS,
    trustedProxies: read.FUNNELCAST_TRUSTED_PROXIES,
    maxEventPropertiesBytes: read.FUNNELCAST_MAX_EVENT_PROPERTIES_BYTES,
    tfBackend: read.FUNNELCAST_TF_BACKEND,
    trainingConcurrency: read.FUNNELCAST_TRAINING_CONCURRENCY,
    trainingMinIntervalSeconds: read.FUNNELCAST_TRAINING_MIN_INTERVAL_SECONDS,
    warmFunnelMirror: read.FUNNELCAST_FUNNEL_WARMUP,
    queuePrefix: read.FUNNELCAST_QUEUE_PREFIX,
    trainingLockMs: read.FUNNELCAST_TRAINING_LOCK_MS,
    queueReconcileMs: read.FUNNELCAST_QUEUE_RECONCILE_MS,
    anomalyThreshold: read.FUNNELCAST_ANOMALY_THRESHOLD,
    ingestGuardEventsPerMinute: read.FUNNELCAST_INGEST_GUARD_EVENTS_PER_MINUTE,
    recommendationCacheSize: read.FUNNELCAST_RECOMMENDATION_CACHE_SIZE,
    recommendationSecret: read.FUNNELCAST_RECOMMENDATION_SECRET,
    funnelTimeoutMs: read.FUNNELCAST_FUNNEL_TIMEOUT_MS,
    healthTimeoutMs: read.FUNNELCAST_HEALTH_TIMEOUT_MS,
    funnelWorkers: read.FUNNELCAST_FUNNEL_WORKERS,
    funnelSplitEvents: read.FUNNELCAST_FUNNEL_SPLIT_EVENTS,
    funnelMirrorPropsLimit: read.FUNNELCAST_MIRROR_PROPS_LIMIT,
    metricsToken: read.FUNNELCAST_METRICS_TOKEN,
    // Unset: a loopback listener, unless a token protects /metrics on the API port instead.
    metricsPort: portSetting(read.FUNNELCAST_METRICS_PORT, read.FUNNELCAST_METRICS_TOKEN ? null : DEFAULT_METRICS_PORT),
    metricsPortIsDefault: read.FUNNELCAST_METRICS_PORT === undefined,
    workerMetricsPort: portSetting(read.FUNNELCAST_WORKER_METRICS_PORT, DEFAULT_WORKER_METRICS_PORT),
    workerMetricsPortIsDefault: read.FUNNELCAST_WORKER_METRICS_PORT === undefined,
    metricsHost: read.FUNNELCAST_METRICS_HOST,
    metricsMaxOperations: read.FUNNELCAST_METRICS_MAX_OPERATIONS,
    analytics: read.FUNNELCAST_ANALYTICS,
    clickhousePath: read.FUNNELCAST_CLICKHOUSE_PATH,
    clickhouseTrainingPath: read.FUNNELCAST_CLICKHOUSE_TRAINING_PATH ?? `${read.FUNNELCAST_CLICKHOUSE_PATH.replace(/\/+$/, '')}-training`,
    clickhouseUrl: read.FUNNELCAST_CLICKHOUSE_URL,
    clickhouseUser: read.FUNNELCAST_CLICKHOUSE_USER,
    clickhousePassword: read.FUNNELCAST_CLICKHOUSE_PASSWORD,
    clickhouseDatabase: read.FUNNELCAST_CLICKHOUSE_DATABASE,
    clickhouseSyncBatch: read.FUNNELCAST_CLICKHOUSE_SYNC_BATCH,
    clickhouseSyncIntervalMs: read.FUNNELCAST_CLICKHOUSE_SYNC_INTERVAL_MS,
    clickhouseDeletionLogDays: read.FUNNELCAST_CLICKHOUSE_DELETION_LOG_DAYS,
    clickhouseSliceEvents: read.FUNNELCAST_CLICKHOUSE_SLICE_EVENTS,
    erasureTombstoneDays: read.FUNNELCAST_ERASURE_TOMBSTONE_DAYS,
    erasurePollMs: read.FUNNELCAST_ERASURE_POLL_MS,
    retentionDays: read.FUNNELCAST_RETENTION_DAYS,
    feedbackRetentionDays: read.FUNNELCAST_FEEDBACK_RETENTION_DAYS ?? read.FUNNELCAST_RETENTION_DAYS,
    pseudonymizeKey: read.FUNNELCAST_PSEUDONYMIZE_KEY,
  };
}

function portSetting(given: number | 'off' | undefined, fallback: number | null): number | null {
  if (given === 'off') return null;
  return given ?? fallback;
}

let cached: Config | undefined;

/** The process-wide configuration, validated on first use. */
export function config(): Config {
  cached ??= loadConfig();
  return cached;
}

/** Tests change the environment and then call this so the next `config()` reads it again. */
export function resetConfig(): void {
  cached = undefined;
}
