import type { IncomingMessage } from 'node:http';

/**
 * A body refused before it was parsed: 413 (too large), 408 (it stopped arriving) or 400 (not
 * UTF-8). The connection is closed after the answer.
 */
export class RequestBodyError extends Error {
  constructor(
    readonly status: 400 | 408 | 413 | 415,
    readonly code: 'PAYLOAD_TOO_LARGE' | 'REQUEST_TIMEOUT' | 'BAD_REQUEST' | 'UNSUPPORTED_MEDIA_TYPE',
    message: string,
  ) {
    super(message);
    this.name = 'RequestBodyError';
  }
}

/** The client went away while sending; there is no one to answer. */
export class ClientGone extends Error {
  constructor() {
    super('the client closed the connection while sending the request body');
    this.name = 'ClientGone';
  }
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
 * The request body as text, at most `maxBytes`, whether or not it declares a Content-Length.
 *
 * A body over the limit is read to its end and thrown away before the 413 is sent, so the client
 * reads the answer instead of a TCP reset (closing a socket with unread data resets it). Only a
 * body that goes on past twice the limit is cut at once. A body that pauses longer than
 * `idleTimeoutMs` gets 408.
 */
export function readBody(request: IncomingMessage, limits: BodyLimits): Promise<string> {
  const { maxBytes, idleTimeoutMs, advice = 'send smaller batches (several requests)' } = limits;
  const tooLarge = () => new RequestBodyError(413, 'PAYLOAD_TOO_LARGE', `The request body is larger than ${maxBytes} bytes; ${advice}.`);
  const encoding = request.headers['content-encoding']?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') {
    // Compressed bodies are not decoded: they would otherwise reach JSON parsing as bytes.
    return Promise.reject(
      new RequestBodyError(415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Encoding "${encoding.slice(0, 40)}" is not accepted; send the body uncompressed (JSON in UTF-8).`),
    );
  }
  const declared = Number(request.headers['content-length'] ?? 0);
  const discardUpTo = limits.discardUpToBytes ?? 2 * maxBytes;
  if (declared > discardUpTo) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let overflow = declared > maxBytes;
    let idle: NodeJS.Timeout | undefined;
    const finish = (error: Error | null, text?: string) => {
      clearTimeout(idle);
      request.off('data', onData).off('end', onEnd).off('aborted', onGone).off('error', onGone).off('close', onClose);
      if (error) reject(error);
      else resolve(text ?? '');
    };
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        request.pause();
        finish(new RequestBodyError(408, 'REQUEST_TIMEOUT', `The request body stopped arriving for ${idleTimeoutMs} ms; send it without pauses.`));
      }, idleTimeoutMs);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      armIdle();
      if (size > maxBytes) {
        overflow = true;
        chunks.length = 0;
        if (size > discardUpTo) {
          request.pause();
          finish(tooLarge());
        }
        return;
      }
      if (!overflow) chunks.push(chunk);
    };
    const onEnd = () => {
      if (overflow) return finish(tooLarge());
      const text = decodeUtf8(Buffer.concat(chunks));
      if (text === null) {
        return finish(new RequestBodyError(400, 'BAD_REQUEST', 'The request body is not valid UTF-8; send JSON encoded as UTF-8.'));
      }
      finish(null, text);
    };
    const onGone = () => finish(new ClientGone());
    const onClose = () => {
      if (!request.complete) onGone();
    };
    request.on('data', onData).on('end', onEnd).on('aborted', onGone).on('error', onGone).on('close', onClose);
    armIdle();
  });
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
