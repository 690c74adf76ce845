import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { RequestRefused } from './respond';

/** The client went away while sending; there is no one to answer. */
export class ClientGone extends Error {
  constructor() {
    super('the client closed the connection while sending the request body');
    this.name = 'ClientGone';
  }
}

/** A body refused before it was parsed; the connection is closed after the answer. */
function bodyRefused(status: 400 | 408 | 413 | 415, code: string, message: string, extensions: Record<string, unknown> = {}): RequestRefused {
  return new RequestRefused(status, code, message, { headers: { connection: 'close' }, extensions });
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The bytes as text, or null when they are not valid UTF-8. Lenient decoding would turn every bad
 * byte into U+FFFD, so two ids that differ only in invalid bytes would become one id.
 */
function decodeUtf8(bytes: Buffer): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

export interface BodyLimits {
  /** Largest body kept, in bytes. */
  maxBytes: number;
  /** Longest pause between two pieces of the body, in milliseconds. */
  idleTimeoutMs: number;
  /** What to do instead, in the 413 answer to a body over `maxBytes` (default: send smaller batches). */
  advice?: string;
  /**
   * How much of a body over `maxBytes` is still read and thrown away, so the client reads the 413
   * instead of a TCP reset; a body past it is cut at once. Default 2 × maxBytes.
   */
  discardUpToBytes?: number;
}

/**
 * Whether Fastify will read a body for this request: it parses none when there is neither a
 * Content-Length above 0 nor a Transfer-Encoding, and none for GET or HEAD.
 */
export function hasBody(request: IncomingMessage): boolean {
  if (request.method === 'GET' || request.method === 'HEAD') return false;
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * The request body as Fastify's parser reads it (the stream a `preParsing` hook returns), at most
 * `maxBytes`, whether or not it declares a Content-Length. Each principal gets its own limits, so
 * they are applied here rather than by Fastify's one `bodyLimit`.
 *
 * A body over the limit is read to its end and thrown away before the 413 is sent, so the client
 * reads the answer instead of a TCP reset (closing a socket with unread data resets it). Only a
 * body that goes on past `discardUpToBytes` is cut at once. A body that pauses longer than
 * `idleTimeoutMs` gets 408; a compressed one 415 (it would otherwise reach JSON parsing as bytes).
 */
export function limitedBody(request: IncomingMessage, limits: BodyLimits): BodyLimiter {
  const encoding = request.headers['content-encoding']?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') {
    throw bodyRefused(415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Encoding "${encoding.slice(0, 40)}" is not accepted; send the body uncompressed (JSON in UTF-8).`);
  }
  const limiter = new BodyLimiter(request, limits);
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limiter.discardUpTo) throw limiter.tooLarge();
  request.pipe(limiter);
  return limiter;
}

class BodyLimiter extends Transform {
  /** Bytes read from the client; Fastify compares it with Content-Length. */
  receivedEncodedLength = 0;
  readonly discardUpTo: number;
  private overflow: boolean;
  private idle: NodeJS.Timeout | undefined;

  constructor(
    private readonly request: IncomingMessage,
    private readonly limits: BodyLimits,
  ) {
    super();
    this.discardUpTo = limits.discardUpToBytes ?? 2 * limits.maxBytes;
    this.overflow = Number(request.headers['content-length'] ?? 0) > limits.maxBytes;
    request.once('close', () => {
      if (!request.complete) this.destroy(new ClientGone());
    });
    // Fastify listens while it reads; a client that leaves after that must not crash the process.
    this.on('error', () => undefined);
    this.armIdle();
  }

  tooLarge(): RequestRefused {
    const { maxBytes, advice = 'send smaller batches (several requests)' } = this.limits;
    return bodyRefused(413, 'PAYLOAD_TOO_LARGE', `The request body is larger than ${maxBytes} bytes; ${advice}.`);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.receivedEncodedLength += chunk.length;
    this.armIdle();
    if (this.receivedEncodedLength > this.limits.maxBytes) {
      this.overflow = true;
      if (this.receivedEncodedLength > this.discardUpTo) {
        this.stopReading();
        callback(this.tooLarge());
        return;
      }
    }
    callback(null, this.overflow ? undefined : chunk);
  }

  override _flush(callback: TransformCallback): void {
    clearTimeout(this.idle);
    callback(this.overflow ? this.tooLarge() : null);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.idle);
    callback(error);
  }

  private armIdle(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      this.stopReading();
      this.destroy(bodyRefused(408, 'REQUEST_TIMEOUT', `The request body stopped arriving for ${this.limits.idleTimeoutMs} ms; send it without pauses.`));
    }, this.limits.idleTimeoutMs);
  }

  /** The rest is left unread: the answer closes the connection. */
  private stopReading(): void {
    this.request.unpipe(this);
    this.request.pause();
  }
}

/**
 * The body as JSON (undefined when empty): strict UTF-8 (400), at most `maxValues` values (413,
 * counted before parsing), valid JSON (400).
 */
export function parseJsonBody(bytes: Buffer, maxValues: number): unknown {
  const text = decodeUtf8(bytes);
  if (text === null) throw bodyRefused(400, 'BAD_REQUEST', 'The request body is not valid UTF-8; send JSON encoded as UTF-8.');
  if (holdsMoreValuesThan(text, maxValues)) {
    const message = `The request body holds more than ${maxValues} values (array entries and object members, variables included); send smaller batches (several requests) and no unused variables.`;
    throw new RequestRefused(413, 'PAYLOAD_TOO_LARGE', message, { extensions: { maxValues } });
  }
  if (!text.length) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new RequestRefused(400, 'BAD_REQUEST', 'The request body is not valid JSON.');
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;

/**
 * Whether a JSON text holds more than `limit` values: array entries and object members at any
 * depth (the query string, variables and extensions alike), counted as the commas and opening
 * brackets outside strings (an empty array or object counts as one). One pass over the text
 * that stops once it is over, before JSON.parse: a million unused variables or a list of millions
 * of ids are refused without building them, and graphql-js never coerces them.
 */
export function holdsMoreValuesThan(text: string, limit: number): boolean {
  let count = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Skip the string: to the next quote not escaped (preceded by an odd number of backslashes).
      let end = text.indexOf('"', i + 1);
      for (;;) {
        if (end === -1) return false; // unterminated: JSON.parse refuses it
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === BACKSLASH) backslashes++;
        if (backslashes % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      i = end;
    } else if (c === COMMA || c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++count > limit) return true;
    }
  }
  return false;
}
