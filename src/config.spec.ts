import { availableParallelism } from 'node:os';
import { ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
  it('uses the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      databaseUrl: undefined,
      redisUrl: 'redis://127.0.0.1:6379',
      port: 4000,
      logLevel: 'info',
      maxIngestBatch: 5000,
      bootstrapAdminKey: undefined,
    });
  });

  it('reads valid values', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgresql://u@db:5432/shop',
      REDIS_URL: 'redis://cache:6380',
      PORT: '8080',
      LOG_LEVEL: 'debug',
      FUNNELCAST_BOOTSTRAP_ADMIN_KEY: 'a-long-enough-secret',
      FUNNELCAST_MAX_INGEST_BATCH: '100',
    });
    expect(config).toMatchObject({
      databaseUrl: 'postgresql://u@db:5432/shop',
      redisUrl: 'redis://cache:6380',
      port: 8080,
      logLevel: 'debug',
      bootstrapAdminKey: 'a-long-enough-secret',
      maxIngestBatch: 100,
    });
  });

  it('names every wrong variable and what would be right, in one error', () => {
    let error: unknown;
    try {
      loadConfig({ DATABASE_URL: 'mysql://x/y', PORT: 'eighty', LOG_LEVEL: 'loud', FUNNELCAST_BOOTSTRAP_ADMIN_KEY: 'short', REDIS_URL: '::' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(5);
    expect(problems.join('\n')).toMatch(/DATABASE_URL must start with postgres:\/\/ or postgresql:\/\//);
    expect(problems.join('\n')).toMatch(/PORT="eighty" must be a whole number from 0 to 65535/);
    expect(problems.join('\n')).toMatch(/LOG_LEVEL="loud" must be one of/);
    expect(problems.join('\n')).toMatch(/FUNNELCAST_BOOTSTRAP_ADMIN_KEY must be at least 16 characters/);
    expect(problems.join('\n')).toMatch(/REDIS_URL is not a URL/);
  });

  it('serves metrics on a loopback port by default, on the API port behind a token when one is set, and never repeats the token', () => {
    expect(loadConfig({})).toMatchObject({
      metricsToken: undefined,
      metricsPort: 9464,
      metricsPortIsDefault: true,
      metricsHost: '127.0.0.1',
      workerMetricsPort: 9465,
      metricsMaxOperations: 100,
    });
    // A token alone moves /metrics onto the API port (behind it) and opens no second listener.
    expect(loadConfig({ FUNNELCAST_METRICS_TOKEN: 'a-long-enough-metrics-token' })).toMatchObject({ metricsToken: 'a-long-enough-metrics-token', metricsPort: null });
    expect(loadConfig({ FUNNELCAST_METRICS_TOKEN: 'a-long-enough-metrics-token', FUNNELCAST_METRICS_PORT: '9100' })).toMatchObject({ metricsPort: 9100, metricsPortIsDefault: false });
    expect(loadConfig({ FUNNELCAST_METRICS_PORT: 'off', FUNNELCAST_WORKER_METRICS_PORT: '0' })).toMatchObject({ metricsPort: null, workerMetricsPort: 0, workerMetricsPortIsDefault: false });
    let error: unknown;
    try {
      loadConfig({ FUNNELCAST_METRICS_TOKEN: 'short-secret', FUNNELCAST_METRICS_PORT: 'none' });
    } catch (caught) {
      error = caught;
    }
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/FUNNELCAST_METRICS_TOKEN must be at least 16 characters/);
    expect(problems).not.toContain('short-secret');
    expect(problems).toMatch(/FUNNELCAST_METRICS_PORT="none" must be a port from 0 to 65535 \(0: any free port\) or off/);
  });

  it('reads the request limits and CORS origins, 0 turning a rate limit off', () => {
    expect(loadConfig({})).toMatchObject({
      maxQueryAliases: 30,
      maxQueryTokens: 5000,
      rateLimitPerKey: 1000,
      rateLimitPerAddress: 1000,
      authFailuresPerMinute: 30,
      bodyTimeoutMs: 10_000,
      corsOrigins: [],
    });
    const config = loadConfig({ FUNNELCAST_RATE_LIMIT_PER_KEY: '0', FUNNELCAST_CORS_ORIGINS: 'https://shop.example, http://localhost:3000/' });
    expect(config.rateLimitPerKey).toBe(0);
    expect(config.corsOrigins).toEqual(['https://shop.example', 'http://localhost:3000']);
    expect(loadConfig({ FUNNELCAST_CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
    expect(() => loadConfig({ FUNNELCAST_CORS_ORIGINS: 'shop.example,https://shop.example/path' })).toThrow(
      'FUNNELCAST_CORS_ORIGINS="shop.example,https://shop.example/path" has "shop.example", "https://shop.example/path", not origins; ' +
        'expected * or e.g. https://shop.example,http://localhost:3000',
    );
  });

  it('gives bodies without a valid key 64 KiB (at most the keyed limit) and bodies 500,000 values by default', () => {
    expect(loadConfig({})).toMatchObject({ maxBodyBytes: 16 * 1024 * 1024, maxAnonymousBodyBytes: 65_536, maxBodyValues: 500_000 });
    expect(loadConfig({ FUNNELCAST_MAX_ANONYMOUS_BODY_BYTES: '2048', FUNNELCAST_MAX_BODY_VALUES: '1000' })).toMatchObject({ maxAnonymousBodyBytes: 2048, maxBodyValues: 1000 });
    // Unset, the anonymous limit follows a lower keyed limit down; set above it, it is refused.
    expect(loadConfig({ FUNNELCAST_MAX_BODY_BYTES: '4096' }).maxAnonymousBodyBytes).toBe(4096);
    expect(() => loadConfig({ FUNNELCAST_MAX_BODY_BYTES: '4096', FUNNELCAST_MAX_ANONYMOUS_BODY_BYTES: '8192' })).toThrow(
      /FUNNELCAST_MAX_ANONYMOUS_BODY_BYTES=8192 must not exceed FUNNELCAST_MAX_BODY_BYTES \(4096\)/,
    );
    expect(() => loadConfig({ FUNNELCAST_MAX_BODY_VALUES: '10' })).toThrow(/FUNNELCAST_MAX_BODY_VALUES="10" must be a whole number from 1000 to 100000000/);
  });

  it('reads how often the worker rebuilds the queue, 30 s by default, from 1 s to 1 h', () => {
    expect(loadConfig({}).queueReconcileMs).toBe(30_000);
    expect(loadConfig({ FUNNELCAST_QUEUE_RECONCILE_MS: '1000' }).queueReconcileMs).toBe(1000);
    for (const wrong of ['999', '3600001', 'soon']) {
      expect(() => loadConfig({ FUNNELCAST_QUEUE_RECONCILE_MS: wrong })).toThrow(/FUNNELCAST_QUEUE_RECONCILE_MS=".*" must be a whole number from 1000 to 3600000/);
    }
  });

  it('limits funnel work in time and runs it on worker threads, one per core by default, splitting big funnels', () => {
    const defaults = loadConfig({});
    expect(defaults.funnelTimeoutMs).toBe(30_000);
    expect(defaults.funnelWorkers).toBe(availableParallelism());
    expect(defaults.funnelSplitEvents).toBe(200_000);
    expect(loadConfig({ FUNNELCAST_FUNNEL_TIMEOUT_MS: '250', FUNNELCAST_FUNNEL_WORKERS: '0', FUNNELCAST_FUNNEL_SPLIT_EVENTS: '0' })).toMatchObject({
      funnelTimeoutMs: 250,
      funnelWorkers: 0,
      funnelSplitEvents: 0,
    });
    let error: unknown;
    try {
      loadConfig({ FUNNELCAST_FUNNEL_TIMEOUT_MS: '0', FUNNELCAST_FUNNEL_WORKERS: 'many', FUNNELCAST_FUNNEL_SPLIT_EVENTS: '-1' });
    } catch (caught) {
      error = caught;
    }
    expect((error as ConfigError).problems).toEqual([
      'FUNNELCAST_FUNNEL_TIMEOUT_MS="0" must be a whole number from 1 to 3600000',
      'FUNNELCAST_FUNNEL_WORKERS="many" must be a whole number from 0 to 256',
      'FUNNELCAST_FUNNEL_SPLIT_EVENTS="-1" must be a whole number from 0 to 2000000000',
    ]);
  });

  it('reads the trusted proxies, refusing what proxy-addr cannot read', () => {
    expect(loadConfig({}).trustedProxies).toEqual([]);
    expect(loadConfig({ FUNNELCAST_TRUSTED_PROXIES: '10.0.0.0/8, loopback' }).trustedProxies).toEqual(['10.0.0.0/8', 'loopback']);
    expect(() => loadConfig({ FUNNELCAST_TRUSTED_PROXIES: 'the-load-balancer' })).toThrow(
      /FUNNELCAST_TRUSTED_PROXIES="the-load-balancer" is not a list of proxies \(.*the-load-balancer\); expected addresses, CIDR ranges or loopback/,
    );
  });

  it('is silent under jest unless LOG_LEVEL is set', () => {
    expect(loadConfig({ JEST_WORKER_ID: '1' }).logLevel).toBe('silent');
    expect(loadConfig({ JEST_WORKER_ID: '1', LOG_LEVEL: 'warn' }).logLevel).toBe('warn');
  });

  it('takes a recommendation id secret of at least 32 characters, or none (one is kept in PostgreSQL)', () => {
    expect(loadConfig({}).recommendationSecret).toBeUndefined();
    expect(loadConfig({ FUNNELCAST_RECOMMENDATION_SECRET: 's'.repeat(32) }).recommendationSecret).toBe('s'.repeat(32));
    expect(() => loadConfig({ FUNNELCAST_RECOMMENDATION_SECRET: 'too short' })).toThrow(/FUNNELCAST_RECOMMENDATION_SECRET must be at least 32 characters/);
  });

  it('names the value given and the accepted form for every kind of variable', () => {
    let error: unknown;
    try {
      loadConfig({
        FUNNELCAST_FUNNEL_WARMUP: 'yes',
        FUNNELCAST_ANOMALY_THRESHOLD: '1.5',
        FUNNELCAST_TF_BACKEND: 'gpu',
        FUNNELCAST_QUEUE_PREFIX: 'two words',
      });
    } catch (caught) {
      error = caught;
    }
    expect((error as ConfigError).problems).toEqual([
      'FUNNELCAST_TF_BACKEND="gpu" must be one of auto, node-gpu, node, wasm, cpu',
      'FUNNELCAST_QUEUE_PREFIX="two words" must be 1–64 letters, digits or _ . -',
      'FUNNELCAST_FUNNEL_WARMUP="yes" must be true or false',
      'FUNNELCAST_ANOMALY_THRESHOLD="1.5" must be a number above 0 and at most 1',
    ]);
    expect(loadConfig({ FUNNELCAST_FUNNEL_WARMUP: '0', FUNNELCAST_ANOMALY_THRESHOLD: '0.8', FUNNELCAST_TF_BACKEND: 'wasm' })).toMatchObject({
      warmFunnelMirror: false,
      anomalyThreshold: 0.8,
      tfBackend: 'wasm',
    });
  });

  it('never repeats the value of a variable that may hold a password or secret', () => {
    let error: unknown;
    try {
      loadConfig({
        DATABASE_URL: 'mysql://shop:hunter2@db/shop',
        REDIS_URL: 'redis//:hunter2@cache',
        FUNNELCAST_BOOTSTRAP_ADMIN_KEY: 'hunter2',
        FUNNELCAST_RECOMMENDATION_SECRET: 'hunter2',
      });
    } catch (caught) {
      error = caught;
    }
    expect((error as ConfigError).problems).toHaveLength(4);
    expect((error as ConfigError).message).not.toContain('hunter2');
    expect((error as ConfigError).message).toContain('DATABASE_URL must start with postgres:// or postgresql:// (got mysql://…)');
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '', LOG_LEVEL: '', HOST: '', FUNNELCAST_CORS_ORIGINS: '', DATABASE_URL: '' })).toMatchObject({
      port: 4000,
      logLevel: 'info',
      host: '0.0.0.0',
      corsOrigins: [],
      databaseUrl: undefined,
    });
  });
});
