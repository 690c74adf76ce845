import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from 'cors';
import { sendError } from './respond';

/**
 * Cross-origin access for web pages, from FUNNELCAST_CORS_ORIGINS (`*` or exact origins), by the
 * `cors` package: Access-Control-* headers for an allowed Origin (Vary: Origin unless any origin
 * may call), preflights (OPTIONS) answered 204 with the methods, the requested headers and a max
 * age. A preflight from an origin that is not allowed gets a 403 in GraphQL's error shape and no
 * CORS headers, so the browser keeps the page from calling. Requests without an Origin (servers,
 * curl) are not affected.
 *
 * Returns a handler that says whether it has answered the request (every OPTIONS request).
 */
export function corsHandler(allowedOrigins: readonly string[]): (request: IncomingMessage, response: ServerResponse) => boolean {
  const anyOrigin = allowedOrigins.includes('*');
  const middleware = cors({
    origin: anyOrigin ? '*' : [...allowedOrigins],
    methods: ['GET', 'POST', 'OPTIONS'],
    exposedHeaders: ['Retry-After'],
    maxAge: 600,
  });
  return (request, response) => {
    const origin = request.headers.origin;
    const preflight = request.method === 'OPTIONS' && origin !== undefined && request.headers['access-control-request-method'] !== undefined;
    if (preflight && !anyOrigin && !allowedOrigins.includes(origin)) {
      response.setHeader('vary', 'Origin');
      sendError(response, 403, 'FORBIDDEN', `Web pages from ${origin} may not call this API.`);
      return true;
    }
    // With fixed options the middleware decides synchronously: it calls `next` for anything but
    // OPTIONS, and answers OPTIONS itself.
    let passedOn = false;
    middleware(request, response, () => {
      passedOn = true;
    });
    return !passedOn;
  };
}
