import type { IncomingMessage, ServerResponse } from 'node:http';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express from 'express';

/** Where the queue dashboard lives; everything below it (its API, its static files) too. */
export const QUEUE_BOARD_PATH = '/admin/queues';

/** True for the dashboard's page and everything under it. */
export function isQueueBoardPath(pathname: string): boolean {
  return pathname === QUEUE_BOARD_PATH || pathname.startsWith(`${QUEUE_BOARD_PATH}/`);
}

/**
 * Sent with every answer under /admin/queues. Browsers send the admin key (HTTP Basic) by themselves
 * once it was typed, so no other site may frame the dashboard (clickjacking); the rest as on /console.
 */
const BOARD_SECURITY_HEADERS = {
  'content-security-policy': "frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * bull-board over the given BullMQ queues, as a plain Node request handler (its Express adapter in
 * an Express app of its own that serves nothing else). Read-only: PostgreSQL holds each training
 * job's state and the worker rebuilds Redis from it, so jobs are cancelled, retried and queued
 * through the GraphQL mutations, never by editing Redis from the dashboard. The caller checks
 * that the request comes from an admin first.
 */
export function queueBoard(queues: Queue[]): (request: IncomingMessage, response: ServerResponse) => void {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: true })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Funnelcast queues' } },
  });
  // The adapter's router is an Express app of its own, with its own settings: it would say X-Powered-By too.
  const router: express.Express = serverAdapter.getRouter();
  router.disable('x-powered-by');
  const app = express();
  app.disable('x-powered-by');
  app.use(QUEUE_BOARD_PATH, router);
  return (request, response) => {
    for (const [header, value] of Object.entries(BOARD_SECURITY_HEADERS)) response.setHeader(header, value);
    request.url = boundedPaging(request.url ?? QUEUE_BOARD_PATH);
    app(request, response);
  };
}

/** The most jobs one page of the dashboard lists (its own choices are 10 to 100). */
export const MAX_JOBS_PER_PAGE = 100;

/**
 * The request's URL with the dashboard's paging bounded: `jobsPerPage` at most MAX_JOBS_PER_PAGE
 * and `page` a whole number from 1. bull-board reads whatever range a URL asks for, and one page of
 * a million jobs would hold Redis and this process for everyone while it loads.
 */
export function boundedPaging(url: string): string {
  const parsed = new URL(url, 'http://localhost');
  const bound = (name: string, max: number) => {
    const raw = parsed.searchParams.get(name);
    if (raw === null) return;
    const value = Math.trunc(Number(raw));
    parsed.searchParams.set(name, String(Number.isFinite(value) ? Math.min(Math.max(value, 1), max) : 1));
  };
  bound('jobsPerPage', MAX_JOBS_PER_PAGE);
  bound('page', 1_000_000);
  return `${parsed.pathname}${parsed.search}`;
}
