import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { setMaxListeners } from 'node:events';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type pino from 'pino';
import type { Config } from './config';
import type { Context } from './context';
import { argumentValidationPlugin } from './graphql/argument-validation';
import { DATABASE_UNAVAILABLE_MESSAGE, isDatabaseUnavailable } from './db/db-errors';
import { formatError } from './graphql/errors';
import { queryLimitsForApollo, queryLimitsFrom } from './graphql/limits';
import { RequestAuthenticator } from './http/authenticate';
import { ClientGone, holdsMoreValuesThan, readBody, RequestBodyError } from './http/body';
import { serveConsole } from './console/serve-console';
import { corsHandler } from './http/cors';
import { RequestRateLimits } from './http/rate-limit';
import { observeRequest, requestObservationPlugin, RequestObservation } from './http/request-log';
import { isQueueBoardPath, queueBoard } from './http/queue-board';
import { sendError, sendJson } from './http/respond';
import { logger } from './logger';
import { carriesMetricsToken, serveMetrics, startMetricsListener, type MetricsListener } from './metrics/metrics-endpoint';
import { metrics } from './metrics/metrics';
import { buildFunnelcastSchema } from './schema';
import type { Services } from './services';

export interface RunningServer {
  url: string;
  port: number;
  /** The separate metrics listener's URL (FUNNELCAST_METRICS_PORT), null when there is none. */
  metricsUrl: string | null;
  close(): Promise<void>;
}

export interface ServerOptions {
  /** Where the one line per request goes (default: the process logger). */
  requestLog?: pino.Logger;
}

/**
 * The HTTP front: POST/GET /graphql through Apollo, GET /healthz for load balancers, /metrics
 * (with FUNNELCAST_METRICS_TOKEN; else on a listener of its own, loopback by default) and the
 * queue dashboard at /admin/queues (admin key). Every request gets one `info` log line
 * (http/request-log.ts). A plain Node server keeps the request path short and lets us cap body
 * sizes before anything is parsed.
 */
export async function startServer(services: Services, config: Config, port = config.port, options: ServerOptions = {}): Promise<RunningServer> {
  const limits = queryLimitsForApollo<Context>(queryLimitsFrom(config));
  const apollo = new ApolloServer<Context>({
    schema: await buildFunnelcastSchema(),
    formatError,
    includeStacktraceInErrorResponses: false,
    // No client uses automatic persisted queries; with them on, a wrong hash was an internal error
    // (and a logged stack) any anonymous caller could produce. Off, it is PERSISTED_QUERY_NOT_SUPPORTED.
    persistedQueries: false,
    // No type sets cache hints; the default cache-control plugin would still hook every field of every response.
    plugins: [limits.plugin, argumentValidationPlugin(), requestObservationPlugin(), ApolloServerPluginCacheControlDisabled()],
    validationRules: limits.validationRules,
    parseOptions: limits.parseOptions,
  });
  const handleCors = corsHandler(config.corsOrigins);
  const rateLimits = new RequestRateLimits(services.redis, config);
  const authenticator = new RequestAuthenticator(services, rateLimits);
  await apollo.start();
  const log = logger();
  const requestLog = options.requestLog ?? log;
  const processMetrics = metrics();
  const board = queueBoard([services.training.queue.bullQueue()]);

  /** A refusal before GraphQL, in GraphQL's error shape, noted for the request's log line and metrics. */
  const refuse = (
    observation: RequestObservation,
    response: ServerResponse,
    status: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
    extensions: Record<string, unknown> = {},
  ) => {
    observation.refused(code);
    sendError(response, status, code, message, headers, extensions);
  };

  /** /metrics on the API port, only with FUNNELCAST_METRICS_TOKEN: a wrong token (not a missing one) takes one of the address's authentication attempts. */
  const handleMetrics = async (request: IncomingMessage, response: ServerResponse, observation: RequestObservation, token: string): Promise<void> => {
    const limited = await rateLimits.admit(request);
    const guessed = request.headers.authorization !== undefined && !carriesMetricsToken(request, token);
    const refusal = limited ?? (guessed ? await rateLimits.takeAuthAttempt(request) : null);
    if (refusal) {
      refuse(observation, response, 429, 'RATE_LIMITED', refusal.message, { 'retry-after': String(refusal.retryAfterSeconds) }, { retryAfterSeconds: refusal.retryAfterSeconds });
      return;
    }
    await serveMetrics(request, response, processMetrics.registry, token);
    if (response.statusCode === 401) observation.refused('UNAUTHENTICATED');
  };

  /**
   * The queue dashboard, for admin keys only: `Authorization: Bearer <key>` or, from a browser,
   * HTTP Basic with the key as the password (any user name; the browser asks once and then sends
   * it with every request under /admin/queues). None or a wrong key: 401 asking for Basic; another role: 403.
   */
  const handleQueueBoard = async (request: IncomingMessage, response: ServerResponse, observation: RequestObservation): Promise<void> => {
    const limited = await rateLimits.admit(request);
    const auth = limited ? { refusal: limited } : await authenticator.authenticate(request, { basic: true });
    if ('refusal' in auth) {
      const { message, retryAfterSeconds } = auth.refusal;
      refuse(observation, response, 429, 'RATE_LIMITED', message, { 'retry-after': String(retryAfterSeconds) }, { retryAfterSeconds });
      return;
    }
    observation.principal = auth.principal;
    if (!auth.principal) {
      const message = auth.authProblem ?? 'The queue dashboard needs an admin API key: Authorization: Bearer <key>, or sign in with any user name and the key as password.';
      refuse(observation, response, 401, 'UNAUTHENTICATED', message, { 'www-authenticate': 'Basic realm="Funnelcast queues", charset="UTF-8"' });
      return;
    }
    if (auth.principal.role !== 'admin') {
      refuse(observation, response, 403, 'FORBIDDEN', `The queue dashboard is for admin keys; this key's role is ${auth.principal.role}.`);
      return;
    }
    // BullMQ waits for a connection that is not ready, so without this the dashboard would hang.
    if (services.redis.status !== 'ready') {
      refuse(observation, response, 503, 'SERVICE_UNAVAILABLE', 'The queue dashboard reads Redis, which does not answer; everything else keeps working. Try again once Redis is back.');
      return;
    }
    board(request, response);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse, observation: RequestObservation): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (handleCors(request, response)) return;
    if (url.pathname === '/healthz') {
      const health = await services.health.check();
      sendJson(response, health.database.ok ? 200 : 503, health);
      return;
    }
    if (url.pathname === '/metrics' && config.metricsToken !== undefined) {
      await handleMetrics(request, response, observation, config.metricsToken);
      return;
    }
    if (await serveConsole(request, response, url.pathname)) return;
    if (isQueueBoardPath(url.pathname)) {
      await handleQueueBoard(request, response, observation);
      return;
    }
    if (url.pathname !== '/graphql' && url.pathname !== '/') {
      refuse(observation, response, 404, 'NOT_FOUND', 'Not found; the GraphQL endpoint is /graphql.');
      return;
    }
    observation.graphql = true;
    // Who is asking is known before the body is read: requests without a valid key get a small body limit.
    const limited = await rateLimits.admit(request);
    const auth = limited ? { refusal: limited } : await authenticator.authenticate(request);
    if ('refusal' in auth) {
      const { message, retryAfterSeconds } = auth.refusal;
      refuse(observation, response, 429, 'RATE_LIMITED', message, { 'retry-after': String(retryAfterSeconds) }, { retryAfterSeconds });
      return;
    }
    observation.principal = auth.principal;
    let body: unknown = undefined;
    if (request.method === 'POST') {
      const text = await readBody(
        request,
        auth.principal
          ? { maxBytes: config.maxBodyBytes, idleTimeoutMs: config.bodyTimeoutMs }
          : {
              maxBytes: config.maxAnonymousBodyBytes,
              idleTimeoutMs: config.bodyTimeoutMs,
              advice: 'that is the limit without a valid API key: authenticate (Authorization: Bearer <key>) or send less',
              // Read (and drop) as much as a keyed request may send, so the answer arrives as a 413, not a reset.
              discardUpToBytes: 2 * config.maxBodyBytes,
            },
      );
      if (holdsMoreValuesThan(text, config.maxBodyValues)) {
        const message = `The request body holds more than ${config.maxBodyValues} values (array entries and object members, variables included); send smaller batches (several requests) and no unused variables.`;
        refuse(observation, response, 413, 'PAYLOAD_TOO_LARGE', message, {}, { maxValues: config.maxBodyValues });
        return;
      }
      try {
        body = text.length ? JSON.parse(text) : undefined;
      } catch {
        refuse(observation, response, 400, 'BAD_REQUEST', 'The request body is not valid JSON.');
        return;
      }
    }
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    // Aborted when the connection closes or the answer is out, so work nobody will read (funnels) stops.
    const ended = new AbortController();
    // Each funnel field in flight listens for the end of its request: as many as the request has
    // funnel fields, which the alias and cost limits bound; Node's default warns at 10.
    setMaxListeners(0, ended.signal);
    response.once('close', () => ended.abort());
    const result = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: request.method ?? 'GET', headers, search: url.search, body },
      context: async () => ({ services, signal: ended.signal, ...auth, observation }),
    });
    for (const [name, value] of result.headers) response.setHeader(name, value);
    response.statusCode = result.status ?? 200;
    if (result.body.kind === 'complete') {
      response.end(result.body.string);
    } else {
      for await (const chunk of result.body.asyncIterator) response.write(chunk);
      response.end();
    }
  };

  const server: Server = createServer((request, response) => {
    const observation = observeRequest(request, response, requestLog, processMetrics);
    handle(request, response, observation).catch((error: unknown) => {
      if (error instanceof RequestBodyError) {
        refuse(observation, response, error.status, error.code, error.message, { connection: 'close' });
        return;
      }
      if (error instanceof ClientGone) {
        response.destroy();
        return;
      }
      if (isDatabaseUnavailable(error)) {
        log.warn({ err: error }, 'database unavailable outside GraphQL');
        if (!response.headersSent) refuse(observation, response, 503, 'SERVICE_UNAVAILABLE', DATABASE_UNAVAILABLE_MESSAGE);
        else response.end();
        return;
      }
      log.error({ err: error }, 'request failed outside GraphQL');
      if (!response.headersSent) refuse(observation, response, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
      else response.end();
    });
  });
  server.keepAliveTimeout = 65_000;
  // Slow clients: headers must arrive within 20 s and the whole request within 120 s (a pause in the body: FUNNELCAST_BODY_TIMEOUT_MS).
  server.headersTimeout = 20_000;
  server.requestTimeout = 120_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, config.host, () => resolve());
  });
  const actualPort = (server.address() as AddressInfo).port;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  let metricsListener: MetricsListener | null = null;
  if (config.metricsPort !== null) {
    try {
      metricsListener = await startMetricsListener({
        host: config.metricsHost,
        port: config.metricsPort,
        token: config.metricsToken,
        portIsDefault: config.metricsPortIsDefault,
        registry: processMetrics.registry,
        log,
        portVariable: 'FUNNELCAST_METRICS_PORT',
      });
    } catch (error) {
      server.close();
      server.closeAllConnections();
      await apollo.stop();
      throw error;
    }
  }
  if (metricsListener) log.info({ url: metricsListener.url, token: config.metricsToken !== undefined }, 'metrics served');
  return {
    url: `http://${shownHost}:${actualPort}/graphql`,
    port: actualPort,
    metricsUrl: metricsListener?.url ?? null,
    async close() {
      await metricsListener?.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await apollo.stop();
    },
  };
}
