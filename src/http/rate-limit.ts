import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type Redis from 'ioredis';
import proxyaddr from 'proxy-addr';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, RLWrapperTimeouts } from 'rate-limiter-flexible';
import type { Config } from '../config';

/** Why a request is refused with 429, and when the client may try again. */
export interface RateLimitRefusal {
  message: string;
  retryAfterSeconds: number;
}

type Limits = Pick<Config, 'rateLimitPerKey' | 'rateLimitPerAddress' | 'authFailuresPerMinute' | 'queuePrefix'> & Partial<Pick<Config, 'trustedProxies' | 'rateLimitRedisTimeoutMs'>>;

/** How long a request waits for Redis to count it before the in-memory count decides (FUNNELCAST_RATE_LIMIT_REDIS_TIMEOUT_MS). */
const DEFAULT_REDIS_TIMEOUT_MS = 250;

type Limiter = RLWrapperTimeouts;

/**
 * A limiter counted in Redis, so every API process shares the count, with an in-memory one of the
 * same size that takes over at once while Redis is disconnected or slower than `timeoutMs`:
 * an outage neither opens the gate nor closes it (the count is then per process).
 */
function limiter(redis: Redis, keyPrefix: string, points: number, duration: number, timeoutMs: number): Limiter {
  const insuranceLimiter = new RateLimiterMemory({ keyPrefix, points, duration });
  const shared = new RateLimiterRedis({ storeClient: redis, keyPrefix, points, duration, rejectIfRedisNotReady: true, insuranceLimiter });
  return new RLWrapperTimeouts({ limiter: shared, insuranceLimiter, timeoutMs });
}

const retryAfter = (res: RateLimiterRes) => Math.max(1, Math.ceil(res.msBeforeNext / 1000));

/** The bearer token's key in the limiter: a hash, so no secret is written to Redis. */
function bearerKey(authorization: string | undefined): string | undefined {
  const match = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  return match ? createHash('sha256').update(match[1]).digest('base64url').slice(0, 22) : undefined;
}

/**
 * Which client addresses a request speaks for: the socket's address, or, when the socket is one of
 * FUNNELCAST_TRUSTED_PROXIES, the nearest address in X-Forwarded-For that is not (proxy-addr's
 * rule, the one Express uses). With no trusted proxies X-Forwarded-For is ignored, since any client
 * can write it.
 */
export type AddressTrust = (address: string, hop: number) => boolean;

export function addressTrust(trustedProxies: string[] = []): AddressTrust {
  return proxyaddr.compile(trustedProxies);
}

/** The client's address for rate limits (see AddressTrust). */
export function clientAddress(request: IncomingMessage, trust: AddressTrust = addressTrust()): string {
  if (!request.socket.remoteAddress) return 'unknown';
  return proxyaddr(request, trust);
}

/**
 * Request rates per API key and per client address (FUNNELCAST_RATE_LIMIT_PER_KEY and
 * FUNNELCAST_RATE_LIMIT_PER_ADDRESS, per second), and authentication attempts per address that
 * were not known to succeed (FUNNELCAST_AUTH_FAILURES_PER_MINUTE): each takes a point before its
 * key is looked up and gives it back when the key was valid, so an address gets at most that many
 * failed lookups a minute however many guesses it sends at once. 0 turns a limit off.
 */
export class RequestRateLimits {
  private readonly perKey?: Limiter;
  private readonly perAddress?: Limiter;
  private readonly authFailures?: Limiter;
  private readonly trust: AddressTrust;

  constructor(
    redis: Redis,
    private readonly limits: Limits,
  ) {
    this.trust = addressTrust(limits.trustedProxies);
    const prefix = `${limits.queuePrefix}:rate`;
    const timeoutMs = limits.rateLimitRedisTimeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS;
    if (limits.rateLimitPerKey > 0) this.perKey = limiter(redis, `${prefix}:key`, limits.rateLimitPerKey, 1, timeoutMs);
    if (limits.rateLimitPerAddress > 0) this.perAddress = limiter(redis, `${prefix}:address`, limits.rateLimitPerAddress, 1, timeoutMs);
    if (limits.authFailuresPerMinute > 0) this.authFailures = limiter(redis, `${prefix}:auth-failures`, limits.authFailuresPerMinute, 60, timeoutMs);
  }

  /** Counts the request against its address and key; a refusal when either is over its rate. */
  async admit(request: IncomingMessage): Promise<RateLimitRefusal | null> {
    const address = clientAddress(request, this.trust);
    const key = bearerKey(request.headers.authorization);
    // In parallel: while Redis hangs each waits the timeout once, not one after another.
    const [byAddress, byKey] = await Promise.all([
      this.perAddress ? consume(this.perAddress, address) : null,
      this.perKey && key ? consume(this.perKey, key) : null,
    ]);
    if (byKey) {
      return { message: `Too many requests with this API key: at most ${this.limits.rateLimitPerKey} a second.`, retryAfterSeconds: byKey };
    }
    if (byAddress) {
      return { message: `Too many requests from this address: at most ${this.limits.rateLimitPerAddress} a second.`, retryAfterSeconds: byAddress };
    }
    return null;
  }

  /**
   * Takes one of the address's authentication attempts, atomically, before a key of unknown
   * validity is looked up; a refusal when none is left this minute. Give it back with
   * `returnAuthAttempt` when the key turns out valid (or the lookup could not be made).
   */
  async takeAuthAttempt(request: IncomingMessage): Promise<RateLimitRefusal | null> {
    if (!this.authFailures) return null;
    const refusedFor = await consume(this.authFailures, clientAddress(request, this.trust));
    if (refusedFor === null) return null;
    return {
      message: `Too many failed authentications from this address (${this.limits.authFailuresPerMinute} a minute); check the API key and retry later.`,
      retryAfterSeconds: refusedFor,
    };
  }

  /**
   * Gives back an attempt taken by `takeAuthAttempt`: the key was valid, or it could not be checked.
   * Only an attempt the store answering now still holds is given back. The attempt may have been
   * counted by the other store (Redis became ready, or went away, in between: the in-memory limiter
   * counts while Redis is not ready), and a reward there would push the count below zero, which
   * grants the address an extra failed lookup this minute.
   */
  async returnAuthAttempt(request: IncomingMessage): Promise<void> {
    if (!this.authFailures) return;
    const address = clientAddress(request, this.trust);
    const held = await this.authFailures.get(address).catch(() => null);
    if (held !== null && held.consumedPoints > 0) await this.authFailures.reward(address).catch(() => undefined);
  }

  /** Counts a refused authentication that took no attempt beforehand (it joined another request's lookup, or its key was valid before). */
  async recordAuthFailure(request: IncomingMessage): Promise<void> {
    await this.authFailures?.penalty(clientAddress(request, this.trust)).catch(() => undefined);
  }
}

/** Seconds until the next request is allowed when over the rate, otherwise null. */
async function consume(limiter: Limiter, key: string): Promise<number | null> {
  try {
    await limiter.consume(key);
    return null;
  } catch (refusal) {
    if (refusal instanceof RateLimiterRes) return retryAfter(refusal);
    throw refusal;
  }
}
