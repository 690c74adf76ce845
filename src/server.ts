import { ApolloServer, HeaderMap } from '@apollo/server';
import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config';
import type { Context } from './context';
import { formatError } from './graphql/errors';
import { queryLimitErrors } from './graphql/limits';
import { logger } from './logger';
import { buildFunnelcastSchema } from './schema';
import type { Services } from './services';

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

class BodyTooLarge extends Error {}

function readBody(request: IncomingMessage, maxBytes: number): Promise<string> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > maxBytes) return Promise.reject(new BodyTooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new BodyTooLarge());
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  response.end(JSON.stringify(body));
}

function queryLimitsPlugin(config: Config): ApolloServerPlugin<Context> {
  const limits = { maxDepth: config.maxQueryDepth, maxComplexity: config.maxQueryComplexity };
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operation, request }) {
          if (!operation) return;
          const [error] = queryLimitErrors(document, operation, request.variables ?? {}, limits);
          if (error) {
            error.extensions.http = { status: 400 };
            throw error;
          }
        },
      };
    },
  };
}

async function authenticate(services: Services, header: string | undefined): Promise<Pick<Context, 'principal' | 'authProblem'>> {
  if (!header) return { principal: null, authProblem: null };
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) return { principal: null, authProblem: 'The Authorization header must look like "Bearer <key>".' };
  const principal = await services.apiKeys.authenticate(match[1]);
  return principal
    ? { principal, authProblem: null }
    : { principal: null, authProblem: 'The API key is not valid or has been revoked.' };
}

/**
 * The HTTP front: POST/GET /graphql through Apollo, GET /healthz for load balancers. A plain Node
 * server keeps the request path short and lets us cap body sizes before anything is parsed.
 */
export async function startServer(services: Services, config: Config, port = config.port): Promise<RunningServer> {
  const apollo = new ApolloServer<Context>({
    schema: await buildFunnelcastSchema(),
    formatError,
    includeStacktraceInErrorResponses: false,
    // No type sets cache hints; the default cache-control plugin would still hook every field of every response.
    plugins: [queryLimitsPlugin(config), ApolloServerPluginCacheControlDisabled()],
  });
  await apollo.start();
  const log = logger();

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname === '/healthz') {
      const health = await services.health.check();
      sendJson(response, health.database.ok ? 200 : 503, health);
      return;
    }
    if (url.pathname !== '/graphql' && url.pathname !== '/') {
      sendJson(response, 404, { errors: [{ message: 'Not found; the GraphQL endpoint is /graphql.', extensions: { code: 'NOT_FOUND' } }] });
      return;
    }
    let body: unknown = undefined;
    if (request.method === 'POST') {
      const text = await readBody(request, config.maxBodyBytes);
      try {
        body = text.length ? JSON.parse(text) : undefined;
      } catch {
        sendJson(response, 400, { errors: [{ message: 'The request body is not valid JSON.', extensions: { code: 'BAD_REQUEST' } }] });
        return;
      }
    }
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    // Aborted when the connection closes or the answer is out, so work nobody will read (funnels) stops.
    const ended = new AbortController();
    response.once('close', () => ended.abort());
    const result = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: request.method ?? 'GET', headers, search: url.search, body },
      context: async () => ({ services, signal: ended.signal, ...(await authenticate(services, request.headers.authorization)) }),
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
      if (error instanceof BodyTooLarge) {
        response.setHeader('connection', 'close');
        sendJson(response, 413, {
          errors: [{ message: `The request body is larger than ${config.maxBodyBytes} bytes; send smaller batches.`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }],
        });
        return;
      }
      log.error({ err: error }, 'request failed outside GraphQL');
      if (!response.headersSent) sendJson(response, 500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      else response.end();
    });
  });
  server.keepAliveTimeout = 65_000;

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
