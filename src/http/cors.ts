import fastifyCors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import { RequestRefused } from './respond';

/**
 * Cross-origin access for web pages, from FUNNELCAST_CORS_ORIGINS (`*` or exact origins), by
 * `@fastify/cors`: Access-Control-* headers for an allowed Origin (Vary: Origin unless any origin
 * may call), every OPTIONS request answered 204 with the methods, the requested headers and a max
 * age. A preflight from an origin that is not allowed gets a 403 in GraphQL's error shape and no
 * CORS headers, so the browser keeps the page from calling. Requests without an Origin (servers,
 * curl) are not affected.
 */
export async function registerCors(app: FastifyInstance, allowedOrigins: readonly string[]): Promise<void> {
  const anyOrigin = allowedOrigins.includes('*');
  // Added before the plugin, so it runs before the plugin's own onRequest hook answers the preflight.
  app.addHook('onRequest', async (request) => {
    const origin = request.headers.origin;
    const preflight = request.method === 'OPTIONS' && origin !== undefined && request.headers['access-control-request-method'] !== undefined;
    if (preflight && !anyOrigin && !allowedOrigins.includes(origin)) {
      throw new RequestRefused(403, 'FORBIDDEN', `Web pages from ${origin} may not call this API.`, { headers: { vary: 'Origin' } });
    }
  });
  await app.register(fastifyCors, {
    origin: anyOrigin ? '*' : [...allowedOrigins],
    methods: ['GET', 'POST', 'OPTIONS'],
    exposedHeaders: ['Retry-After'],
    maxAge: 600,
    // An OPTIONS request that is not a preflight (no Origin) is answered 204 too, not 400.
    strictPreflight: false,
  });
}
