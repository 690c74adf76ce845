import type { FastifyReply } from 'fastify';

/**
 * A request refused before it reaches GraphQL (429, 413, 408, 415, 400, 403, 404): thrown from a
 * hook or the body parser, answered by the server's error handler in GraphQL's error shape.
 */
export class RequestRefused extends Error {
  readonly headers: Record<string, string>;
  readonly extensions: Record<string, unknown>;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options: { headers?: Record<string, string>; extensions?: Record<string, unknown> } = {},
  ) {
    super(message);
    this.name = 'RequestRefused';
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }
}

/** A JSON answer in GraphQL's error shape, for requests refused before they reach GraphQL. */
export function sendError(reply: FastifyReply, status: number, code: string, message: string, extensions: Record<string, unknown> = {}): FastifyReply {
  return reply.code(status).send({ errors: [{ message, extensions: { code, ...extensions } }] });
}

export function sendRefusal(reply: FastifyReply, refusal: RequestRefused): FastifyReply {
  return sendError(reply.headers(refusal.headers), refusal.status, refusal.code, refusal.message, refusal.extensions);
}
