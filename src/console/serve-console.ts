import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { sendError } from '../http/respond';

/**
 * Where `npm run build` writes the console (tsc output of src/console/web plus its HTML and CSS):
 * dist/console, seen from dist/src/console (the built server) or from src/console (the sources run
 * by ts-jest, as the e2e tests import the server).
 */
export const CONSOLE_DIST = [resolve(__dirname, '../../console'), resolve(__dirname, '../../dist/console')].find((folder) => existsSync(join(folder, 'index.html'))) ?? resolve(__dirname, '../../console');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

// The page talks only to this server: no CDN (the machines have no internet), no inline script.
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** The chart library ships its browser build in its package; it is served from node_modules, not copied. */
function chartJsFile(): string {
  return join(dirname(require.resolve('chart.js')), 'chart.umd.min.js');
}

/**
 * Answers GET/HEAD under /console (the web console: static files, no secrets in them; every call
 * the page makes goes to /graphql with the key the user typed). Returns false for other paths so
 * the caller handles them. `/console` and `/console/` give index.html; `/console/vendor/chart.js`
 * the Chart.js browser build; `/console/<name>.(js|css|html|map)` a file of the build, nested
 * folders (pages/) allowed. Anything else under /console is a 404; a missing build is a 503 that
 * says to run `npm run build`.
 */
export async function serveConsole(request: IncomingMessage, response: ServerResponse, pathname: string, root = CONSOLE_DIST): Promise<boolean> {
  if (pathname !== '/console' && !pathname.startsWith('/console/')) return false;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    sendError(response, 405, 'METHOD_NOT_ALLOWED', 'The console is read with GET.', { allow: 'GET, HEAD' });
    return true;
  }
  const name = pathname === '/console' || pathname === '/console/' ? 'index.html' : pathname.slice('/console/'.length);
  let file: string;
  if (name === 'vendor/chart.js') file = chartJsFile();
  // Names of the build only (letters, digits, dashes; one folder deep): nothing can climb out of root.
  else if (/^([a-z0-9-]+\/)?[a-z0-9-]+\.(html|js|css|js\.map)$/.test(name)) file = join(root, name);
  else {
    sendError(response, 404, 'NOT_FOUND', 'No such console file.');
    return true;
  }
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch {
    if (name === 'index.html') sendError(response, 503, 'CONSOLE_NOT_BUILT', 'The console is not built; run `npm run build`.');
    else sendError(response, 404, 'NOT_FOUND', 'No such console file.');
    return true;
  }
  const extension = file.slice(file.lastIndexOf('.'));
  response.statusCode = 200;
  for (const [header, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(header, value);
  response.setHeader('content-type', CONTENT_TYPES[extension] ?? 'application/octet-stream');
  response.setHeader('cache-control', 'no-cache');
  response.setHeader('content-length', body.length);
  response.end(request.method === 'HEAD' ? undefined : body);
  return true;
}
