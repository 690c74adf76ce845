import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import { setMaxListeners } from 'node:events';
import type { Config } from './config';
import type { Context } from './context';
import { argumentValidationPlugin } from './graphql/argument-validation';
import { DATABASE_UNAVAILABLE_MESSAGE, isDatabaseUnavailable } from './db/db-errors';
import { formatError } from './graphql/errors';
import { queryLimitsForApollo, queryLimitsFrom } from './graphql/limits';
import { RequestAuthenticator, type Authentication } from './http/authenticate';
import { ClientGone, hasBody, limitedBody, parseJsonBody } from './http/body';
import { registerCors } from './http/cors';
import { RequestRateLimits } from './http/rate-limit';
import { RequestRefused, sendError, sendRefusal } from './http/respond';
import { logger } from './logger';
import { buildFunnelcastSchema } from './schema';
import type { Services } from './services';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is asking, known before the body is read (set by the GraphQL routes' onRequest hook). */
    authentication: Authentication | null;
  }
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Error codes for the 4xx answers Fastify makes itself (a Content-Length that does not match the body, a malformed URL). */
const CODE_OF_STATUS: Record<number, string> = { 400: 'BAD_REQUEST', 404: 'NOT_FOUND', 413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE' };

/**
 * The HTTP front: POST/GET /graphql through Apollo's Fastify integration, GET /healthz for load
 * balancers. Who is asking is known before the body is read (an onRequest hook rate-limits and
 * authenticates), so requests without a valid key get a smaller body limit (preParsing).
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
  const rateLimits = new RequestRateLimits(services.redis, config);
  const authenticator = new RequestAuthenticator(services, rateLimits);
  await apollo.start();
  const log = logger();

  const app = Fastify({
    // A backstop: each request's own limit (below) is smaller.
    bodyLimit: 2 * config.maxBodyBytes,
    keepAliveTimeout: 65_000,
    // Slow clients: the whole request within 120 s (a pause in the body: FUNNELCAST_BODY_TIMEOUT_MS).
    requestTimeout: 120_000,
    // close() ends every connection, in flight or idle, as before.
    forceCloseConnections: true,
  });
  // Headers must arrive within 20 s.
  app.server.headersTimeout = 20_000;
  app.decorateRequest('authentication', null);

  await registerCors(app, config.corsOrigins);

  const keyedBody = { maxBytes: config.maxBodyBytes, idleTimeoutMs: config.bodyTimeoutMs };
  const anonymousBody = {
    maxBytes: config.maxAnonymousBodyBytes,
    idleTimeoutMs: config.bodyTimeoutMs,
    advice: 'that is the limit without a valid API key: authenticate (Authorization: Bearer <key>) or send less',
    // Read (and drop) as much as a keyed request may send, so the answer arrives as a 413, not a reset.
    discardUpToBytes: 2 * config.maxBodyBytes,
  };
  // Any Content-Type: Apollo answers one that is not JSON.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer, config.maxBodyValues));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  const admit = async (request: FastifyRequest): Promise<void> => {
    const limited = await rateLimits.admit(request.raw);
    const auth = limited ? { refusal: limited } : await authenticator.authenticate(request.raw);
    if ('refusal' in auth) {
      const { message, retryAfterSeconds } = auth.refusal;
      throw new RequestRefused(429, 'RATE_LIMITED', message, { headers: { 'retry-after': String(retryAfterSeconds) }, extensions: { retryAfterSeconds } });
    }
    request.authentication = auth;
  };
  const graphql = fastifyApolloHandler<Context>(apollo, {
    context: async (request, reply) => {
      // Aborted when the connection closes or the answer is out, so work nobody will read (funnels) stops.
      const ended = new AbortController();
      // Each funnel field in flight listens for the end of its request: as many as the request has
      // funnel fields, which the alias and cost limits bound; Node's default warns at 10.
      setMaxListeners(0, ended.signal);
      reply.raw.once('close', () => ended.abort());
      return { services, signal: ended.signal, ...request.authentication! };
    },
  });
  for (const url of ['/graphql', '/']) {
    app.route({
      // Apollo answers other methods with 405.
      method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      url,
      onRequest: admit,
      preParsing: async (request, _reply, payload) =>
        hasBody(request.raw) ? limitedBody(request.raw, request.authentication!.principal ? keyedBody : anonymousBody) : payload,
      handler: graphql,
    });
  }
  app.get('/healthz', async (_request, reply) => {
    const health = await services.health.check();
    return reply.code(health.database.ok ? 200 : 503).send(health);
  });
  app.setNotFoundHandler((_request, reply) => sendError(reply, 404, 'NOT_FOUND', 'Not found; the GraphQL endpoint is /graphql.'));
  app.setErrorHandler((error: FastifyError, _request, reply: FastifyReply) => {
    if (error instanceof RequestRefused) return sendRefusal(reply, error);
    if (error instanceof ClientGone) {
      reply.hijack();
      reply.raw.destroy();
      return;
    }
    if (isDatabaseUnavailable(error)) {
      log.warn({ err: error }, 'database unavailable outside GraphQL');
      return sendError(reply, 503, 'SERVICE_UNAVAILABLE', DATABASE_UNAVAILABLE_MESSAGE);
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return sendError(reply.header('connection', 'close'), status, CODE_OF_STATUS[status] ?? 'BAD_REQUEST', error.message);
    log.error({ err: error }, 'request failed outside GraphQL');
    return sendError(reply, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
  });

  await app.listen({ port, host: config.host });
  const actualPort = app.server.address() as { port: number };
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  return {
    url: `http://${shownHost}:${actualPort.port}/graphql`,
    port: actualPort.port,
    async close() {
      await app.close();
      await apollo.stop();
    },
  };
}
