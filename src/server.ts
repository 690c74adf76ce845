import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { setMaxListeners } from 'node:events';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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
import { sendError, sendJson } from './http/respond';
import { logger } from './logger';
import { buildFunnelcastSchema } from './schema';
import type { Services } from './services';

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The HTTP front: POST/GET /graphql through Apollo, GET /healthz for load balancers. A plain Node
 * server keeps the request path short and lets us cap body sizes before anything is parsed.
 */
export async function startServer(services: Services, config: Config, port = config.port): Promise<RunningServer> {
  const limits = queryLimitsForApollo<Context>(queryLimitsFrom(config));
  const apollo = new ApolloServer<Context>({
    schema: await buildFunnelcastSchema(),
    formatError,
    includeStacktraceInErrorResponses: false,
    // No client uses automatic persisted queries; with them on, a wrong hash was an internal error
    // (and a logged stack) any anonymous caller could produce. Off, it is PERSISTED_QUERY_NOT_SUPPORTED.
    persistedQueries: false,
    // No type sets cache hints; the default cache-control plugin would still hook every field of every response.
    plugins: [limits.plugin, argumentValidationPlugin(), ApolloServerPluginCacheControlDisabled()],
    validationRules: limits.validationRules,
    parseOptions: limits.parseOptions,
  });
  const handleCors = corsHandler(config.corsOrigins);
  const rateLimits = new RequestRateLimits(services.redis, config);
  const authenticator = new RequestAuthenticator(services, rateLimits);
  await apollo.start();
  const log = logger();

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (handleCors(request, response)) return;
    if (url.pathname === '/healthz') {
      const health = await services.health.check();
      sendJson(response, health.database.ok ? 200 : 503, health);
      return;
    }
    if (await serveConsole(request, response, url.pathname)) return;
    if (url.pathname !== '/graphql' && url.pathname !== '/') {
      sendError(response, 404, 'NOT_FOUND', 'Not found; the GraphQL endpoint is /graphql.');
      return;
    }
    // Who is asking is known before the body is read: requests without a valid key get a small body limit.
    const limited = await rateLimits.admit(request);
    const auth = limited ? { refusal: limited } : await authenticator.authenticate(request);
    if ('refusal' in auth) {
      const { message, retryAfterSeconds } = auth.refusal;
      sendError(response, 429, 'RATE_LIMITED', message, { 'retry-after': String(retryAfterSeconds) }, { retryAfterSeconds });
      return;
    }
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
        sendError(response, 413, 'PAYLOAD_TOO_LARGE', message, {}, { maxValues: config.maxBodyValues });
        return;
      }
      try {
        body = text.length ? JSON.parse(text) : undefined;
      } catch {
        sendError(response, 400, 'BAD_REQUEST', 'The request body is not valid JSON.');
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
      context: async () => ({ services, signal: ended.signal, ...auth }),
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
    handle(request, response).catch((error: unknown) => {
      if (error instanceof RequestBodyError) {
        sendError(response, error.status, error.code, error.message, { connection: 'close' });
        return;
      }
      if (error instanceof ClientGone) {
        response.destroy();
        return;
      }
      if (isDatabaseUnavailable(error)) {
        log.warn({ err: error }, 'database unavailable outside GraphQL');
        if (!response.headersSent) sendError(response, 503, 'SERVICE_UNAVAILABLE', DATABASE_UNAVAILABLE_MESSAGE);
        else response.end();
        return;
      }
      log.error({ err: error }, 'request failed outside GraphQL');
      if (!response.headersSent) sendError(response, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
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
  return {
    url: `http://${shownHost}:${actualPort}/graphql`,
    port: actualPort,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await apollo.stop();
    },
  };
}
