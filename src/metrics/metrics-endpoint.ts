import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type pino from 'pino';
import type { Registry } from 'prom-client';
import { sendError } from '../http/respond';

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** True when the request carries `Authorization: Bearer <token>` (compared in constant time). */
export function carriesMetricsToken(request: IncomingMessage, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  return match !== null && timingSafeEqual(digest(match[1]), digest(token));
}

/**
 * Answers a scrape: Prometheus text from `registry`, after the bearer token when one is set
 * (401 with WWW-Authenticate otherwise). GET and HEAD only.
 */
export async function serveMetrics(request: IncomingMessage, response: ServerResponse, registry: Registry, token: string | undefined): Promise<void> {
  if (token !== undefined && !carriesMetricsToken(request, token)) {
    sendError(response, 401, 'UNAUTHENTICATED', 'Metrics need Authorization: Bearer <FUNNELCAST_METRICS_TOKEN>.', { 'www-authenticate': 'Bearer realm="metrics"' });
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    sendError(response, 405, 'METHOD_NOT_ALLOWED', 'Scrape metrics with GET.', { allow: 'GET, HEAD' });
    return;
  }
  const text = await registry.metrics();
  response.statusCode = 200;
  response.setHeader('content-type', registry.contentType);
  response.setHeader('cache-control', 'no-store');
  response.end(request.method === 'HEAD' ? undefined : text);
}

export interface MetricsListenerOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  token: string | undefined;
  /** A default port (not asked for) that is taken only turns the listener off, with a warning; an asked-for one fails the start. */
  portIsDefault: boolean;
  registry: Registry;
  log: pino.Logger;
  /** Names the setting in the warning, e.g. FUNNELCAST_METRICS_PORT. */
  portVariable: string;
}

export interface MetricsListener {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * A listener of its own that serves only `/metrics` (bound to loopback unless FUNNELCAST_METRICS_HOST
 * says otherwise), so scrapes never share the API's port, rate limits or logs. Null when the
 * default port was taken (another Funnelcast process on this host has it).
 */
export async function startMetricsListener(options: MetricsListenerOptions): Promise<MetricsListener | null> {
  const { log, registry, token } = options;
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path !== '/metrics') {
      sendError(response, 404, 'NOT_FOUND', 'Not found; this port serves /metrics only.');
      return;
    }
    serveMetrics(request, response, registry, token).catch((error: unknown) => {
      log.error({ err: error }, 'metrics scrape failed');
      if (!response.headersSent) sendError(response, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
      else response.end();
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => resolve());
    });
  } catch (error) {
    if (options.portIsDefault && (error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      log.warn(
        { host: options.host, port: options.port },
        `the default metrics port is taken (another process on this host?); this process serves no metrics. Set ${options.portVariable} to a free port (or off).`,
      );
      return null;
    }
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${shownHost}:${port}/metrics`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
