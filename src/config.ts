import { availableParallelism } from 'node:os';
import proxyaddr from 'proxy-addr';

/**
 * The one place that reads the environment. Every variable is validated once, with a message that
 * says which variable is wrong and what a valid value looks like.
 */
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
}

export const TF_BACKEND_PREFERENCES = ['auto', 'node-gpu', 'node', 'wasm', 'cpu'] as const;
export type TfBackendPreference = (typeof TF_BACKEND_PREFERENCES)[number];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function readInt(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
  problems: string[],
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${name}=${JSON.stringify(raw)} must be a whole number from ${min} to ${max}`);
    return fallback;
  }
  return value;
}

function readUrl(
  env: NodeJS.ProcessEnv,
  name: string,
  protocols: string[],
  problems: string[],
): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  try {
    const url = new URL(raw);
    if (!protocols.includes(url.protocol)) {
      problems.push(`${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')} (got ${url.protocol}//…)`);
    }
  } catch {
    problems.push(`${name} is not a URL; expected e.g. ${protocols[0]}//host:port/…`);
  }
  return raw;
}

function readBoolean(env: NodeJS.ProcessEnv, name: string, fallback: boolean, problems: string[]): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  problems.push(`${name}=${JSON.stringify(raw)} must be true or false`);
  return fallback;
}

function readShare(env: NodeJS.ProcessEnv, name: string, fallback: number, problems: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(value > 0 && value <= 1)) {
    problems.push(`${name}=${JSON.stringify(raw)} must be a number above 0 and at most 1`);
    return fallback;
  }
  return value;
}

/** `*`, or a comma-separated list of origins such as `https://shop.example,http://localhost:3000`. */
function readTrustedProxies(env: NodeJS.ProcessEnv, name: string, problems: string[]): string[] {
  const entries = (env[name] ?? '').split(',').map((part) => part.trim()).filter(Boolean);
  try {
    proxyaddr.compile(entries);
  } catch (error) {
    problems.push(`${name}: ${(error as Error).message}; expected addresses, CIDR ranges or loopback, linklocal, uniquelocal, e.g. 10.0.0.0/8,loopback`);
    return [];
  }
  return entries;
}

function readOrigins(env: NodeJS.ProcessEnv, name: string, problems: string[]): string[] {
  const raw = (env[name] ?? '').trim();
  if (raw === '') return [];
  if (raw === '*') return ['*'];
  const origins: string[] = [];
  for (const entry of raw.split(',').map((part) => part.trim()).filter(Boolean)) {
    let origin: string | undefined;
    try {
      const url = new URL(entry);
      if ((url.protocol === 'http:' || url.protocol === 'https:') && url.origin === entry.replace(/\/$/, '')) origin = url.origin;
    } catch {
      // reported below
    }
    if (origin) origins.push(origin);
    else problems.push(`${name}: ${JSON.stringify(entry)} is not an origin; expected * or e.g. https://shop.example,http://localhost:3000`);
  }
  return origins;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const databaseUrl = readUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:'], problems);
  const redisUrl = readUrl(env, 'REDIS_URL', ['redis:', 'rediss:'], problems) ?? 'redis://127.0.0.1:6379';

  const inTests = env.NODE_ENV === 'test' || env.JEST_WORKER_ID !== undefined;
  const rawLevel = env.LOG_LEVEL ?? (inTests ? 'silent' : 'info');
  let logLevel: LogLevel = 'info';
  if (LOG_LEVELS.includes(rawLevel as LogLevel)) logLevel = rawLevel as LogLevel;
  else problems.push(`LOG_LEVEL=${JSON.stringify(rawLevel)} must be one of ${LOG_LEVELS.join(', ')}`);

  const bootstrapAdminKey = env.FUNNELCAST_BOOTSTRAP_ADMIN_KEY || undefined;
  if (bootstrapAdminKey !== undefined && bootstrapAdminKey.length < 16) {
    problems.push('FUNNELCAST_BOOTSTRAP_ADMIN_KEY must be at least 16 characters long');
  }

  const tfBackend = (env.FUNNELCAST_TF_BACKEND || 'auto') as TfBackendPreference;
  if (!TF_BACKEND_PREFERENCES.includes(tfBackend)) {
    problems.push(`FUNNELCAST_TF_BACKEND=${JSON.stringify(env.FUNNELCAST_TF_BACKEND)} must be one of ${TF_BACKEND_PREFERENCES.join(', ')}`);
  }
  const queuePrefix = env.FUNNELCAST_QUEUE_PREFIX || 'funnelcast';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(queuePrefix)) {
    problems.push('FUNNELCAST_QUEUE_PREFIX must be 1–64 letters, digits or _ . -');
  }

  const recommendationSecret = env.FUNNELCAST_RECOMMENDATION_SECRET || undefined;
  if (recommendationSecret !== undefined && recommendationSecret.length < 32) {
    problems.push('FUNNELCAST_RECOMMENDATION_SECRET must be at least 32 characters long (e.g. openssl rand -base64 32)');
  }

  const maxBodyBytes = readInt(env, 'FUNNELCAST_MAX_BODY_BYTES', 16 * 1024 * 1024, 1024, 1024 * 1024 * 1024, problems);
  // Unset, it follows a lower FUNNELCAST_MAX_BODY_BYTES down; set above it, it is a mistake.
  const maxAnonymousBodyBytes = readInt(env, 'FUNNELCAST_MAX_ANONYMOUS_BODY_BYTES', Math.min(64 * 1024, maxBodyBytes), 1024, 1024 * 1024 * 1024, problems);
  if (maxAnonymousBodyBytes > maxBodyBytes) {
    problems.push(`FUNNELCAST_MAX_ANONYMOUS_BODY_BYTES=${maxAnonymousBodyBytes} must not exceed FUNNELCAST_MAX_BODY_BYTES (${maxBodyBytes})`);
  }

  const config: Config = {
    databaseUrl,
    redisUrl,
    port: readInt(env, 'PORT', 4000, 0, 65535, problems),
    host: env.HOST || '0.0.0.0',
    logLevel,
    bootstrapAdminKey,
    maxIngestBatch: readInt(env, 'FUNNELCAST_MAX_INGEST_BATCH', 5000, 1, 100_000, problems),
    maxBodyBytes,
    maxAnonymousBodyBytes,
    maxBodyValues: readInt(env, 'FUNNELCAST_MAX_BODY_VALUES', 500_000, 1000, 100_000_000, problems),
    maxQueryDepth: readInt(env, 'FUNNELCAST_MAX_QUERY_DEPTH', 12, 2, 100, problems),
    maxQueryComplexity: readInt(env, 'FUNNELCAST_MAX_QUERY_COMPLEXITY', 2000, 10, 1_000_000, problems),
    maxQueryAliases: readInt(env, 'FUNNELCAST_MAX_QUERY_ALIASES', 30, 1, 10_000, problems),
    maxQueryTokens: readInt(env, 'FUNNELCAST_MAX_QUERY_TOKENS', 5000, 100, 10_000_000, problems),
    maxQueryDirectives: readInt(env, 'FUNNELCAST_MAX_QUERY_DIRECTIVES', 50, 1, 10_000, problems),
    rateLimitPerKey: readInt(env, 'FUNNELCAST_RATE_LIMIT_PER_KEY', 1000, 0, 1_000_000, problems),
    rateLimitPerAddress: readInt(env, 'FUNNELCAST_RATE_LIMIT_PER_ADDRESS', 1000, 0, 1_000_000, problems),
    authFailuresPerMinute: readInt(env, 'FUNNELCAST_AUTH_FAILURES_PER_MINUTE', 30, 0, 1_000_000, problems),
    rateLimitRedisTimeoutMs: readInt(env, 'FUNNELCAST_RATE_LIMIT_REDIS_TIMEOUT_MS', 250, 1, 60_000, problems),
    bodyTimeoutMs: readInt(env, 'FUNNELCAST_BODY_TIMEOUT_MS', 10_000, 100, 600_000, problems),
    corsOrigins: readOrigins(env, 'FUNNELCAST_CORS_ORIGINS', problems),
    trustedProxies: readTrustedProxies(env, 'FUNNELCAST_TRUSTED_PROXIES', problems),
    maxEventPropertiesBytes: readInt(env, 'FUNNELCAST_MAX_EVENT_PROPERTIES_BYTES', 16 * 1024, 64, 1024 * 1024, problems),
    tfBackend,
    trainingConcurrency: readInt(env, 'FUNNELCAST_TRAINING_CONCURRENCY', 1, 1, 64, problems),
    trainingMinIntervalSeconds: readInt(env, 'FUNNELCAST_TRAINING_MIN_INTERVAL_SECONDS', 3600, 1, 31_622_400, problems),
    warmFunnelMirror: readBoolean(env, 'FUNNELCAST_FUNNEL_WARMUP', true, problems),
    queuePrefix,
    trainingLockMs: readInt(env, 'FUNNELCAST_TRAINING_LOCK_MS', 30_000, 1000, 600_000, problems),
    queueReconcileMs: readInt(env, 'FUNNELCAST_QUEUE_RECONCILE_MS', 30_000, 1000, 3_600_000, problems),
    anomalyThreshold: readShare(env, 'FUNNELCAST_ANOMALY_THRESHOLD', 0.5, problems),
    ingestGuardEventsPerMinute: readInt(env, 'FUNNELCAST_INGEST_GUARD_EVENTS_PER_MINUTE', 120, 0, 1_000_000, problems),
    recommendationCacheSize: readInt(env, 'FUNNELCAST_RECOMMENDATION_CACHE_SIZE', 20_000, 0, 10_000_000, problems),
    recommendationSecret,
    funnelTimeoutMs: readInt(env, 'FUNNELCAST_FUNNEL_TIMEOUT_MS', 30_000, 1, 3_600_000, problems),
    healthTimeoutMs: readInt(env, 'FUNNELCAST_HEALTH_TIMEOUT_MS', 2000, 10, 120_000, problems),
    funnelWorkers: readInt(env, 'FUNNELCAST_FUNNEL_WORKERS', availableParallelism(), 0, 256, problems),
    funnelSplitEvents: readInt(env, 'FUNNELCAST_FUNNEL_SPLIT_EVENTS', 200_000, 0, 2_000_000_000, problems),
    funnelMirrorPropsLimit: readInt(env, 'FUNNELCAST_MIRROR_PROPS_LIMIT', 1_000_000, 0, 100_000_000, problems),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
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
