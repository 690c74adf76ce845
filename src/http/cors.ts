import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendError } from './respond';

const ALLOWED_METHODS = 'GET, POST, OPTIONS';
/** Headers a browser may read from our answers besides the simple ones. */
const EXPOSED_HEADERS = 'Retry-After';
/** How long a browser may reuse a preflight answer, in seconds. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;
const HEADER_LIST = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$/;

/**
 * Cross-origin access for web pages, from FUNNELCAST_CORS_ORIGINS (`*` or exact origins).
 *
 * Sets the Access-Control-* headers for an allowed Origin and answers preflight (OPTIONS)
 * requests itself: 204 for allowed origins, 403 without CORS headers for others, so the browser
 * keeps the page from calling. Requests without an Origin (servers, curl) are not affected.
 * Returns true when the request has been answered.
 */
export function handleCors(request: IncomingMessage, response: ServerResponse, allowedOrigins: readonly string[]): boolean {
  const origin = request.headers.origin;
  const anyOrigin = allowedOrigins.includes('*');
  const allowed = origin !== undefined && (anyOrigin || allowedOrigins.includes(origin));
  if (!anyOrigin) response.setHeader('vary', 'Origin');
  if (allowed) {
    response.setHeader('access-control-allow-origin', anyOrigin ? '*' : origin);
    response.setHeader('access-control-expose-headers', EXPOSED_HEADERS);
  }
  if (request.method !== 'OPTIONS') return false;

  const preflight = origin !== undefined && request.headers['access-control-request-method'] !== undefined;
  if (preflight && !allowed) {
    sendError(response, 403, 'FORBIDDEN', `Web pages from ${origin} may not call this API.`);
    return true;
  }
  if (preflight) {
    const requested = request.headers['access-control-request-headers'];
    response.setHeader('access-control-allow-methods', ALLOWED_METHODS);
    if (requested && HEADER_LIST.test(requested)) response.setHeader('access-control-allow-headers', requested);
    response.setHeader('access-control-max-age', String(PREFLIGHT_MAX_AGE_SECONDS));
  }
  response.setHeader('allow', ALLOWED_METHODS);
  response.statusCode = 204;
  response.end();
  return true;
}
