import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Redis from 'ioredis';
import { addressTrust, clientAddress, RequestRateLimits } from './rate-limit';

function request(socketAddress: string, forwardedFor?: string): IncomingMessage {
  const socket = { remoteAddress: socketAddress };
  return { socket, connection: socket, headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} } as unknown as IncomingMessage;
}

describe('clientAddress', () => {
  it("is the socket's address when no proxy is trusted, whatever X-Forwarded-For says", () => {
    expect(clientAddress(request('127.0.0.1', '203.0.113.5'))).toBe('127.0.0.1');
    expect(clientAddress(request('10.1.2.3', '203.0.113.5'), addressTrust([]))).toBe('10.1.2.3');
  });

  it('is the nearest untrusted address in X-Forwarded-For when the socket is a trusted proxy', () => {
    const trust = addressTrust(['10.0.0.0/8', 'loopback']);
    expect(clientAddress(request('10.1.2.3', '203.0.113.5'), trust)).toBe('203.0.113.5');
    // Two trusted hops (client → 10.9.9.9 → 10.1.2.3); a forged entry before the real client is skipped.
    expect(clientAddress(request('10.1.2.3', '198.51.100.7, 203.0.113.5, 10.9.9.9'), trust)).toBe('203.0.113.5');
    // A socket outside the trusted list is the client itself.
    expect(clientAddress(request('192.0.2.1', '203.0.113.5'), trust)).toBe('192.0.2.1');
    expect(clientAddress(request('10.1.2.3'), trust)).toBe('10.1.2.3');
  });
});

describe('failed-authentication attempts across a Redis that becomes ready', () => {
  let redis: Redis;
  afterEach(() => redis?.disconnect());

  it('gives back an attempt only where it was counted, so the address never gets an extra lookup', async () => {
    // Not connected yet: the in-memory limiter counts (rejectIfRedisNotReady), as at start-up.
    redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    const limits = new RequestRateLimits(redis, {
      rateLimitPerKey: 0,
      rateLimitPerAddress: 0,
      authFailuresPerMinute: 2,
      queuePrefix: `spec-${randomBytes(6).toString('hex')}`,
      rateLimitRedisTimeoutMs: 30_000,
    });
    const from = request('192.0.2.44');
    expect(await limits.takeAuthAttempt(from)).toBeNull(); // counted in memory
    await redis.connect();
    await limits.returnAuthAttempt(from); // the key was valid; Redis never saw that attempt
    // Two failed lookups a minute, counted in Redis from here: the third is refused. (A reward sent to
    // Redis for the in-memory attempt left its count at -1, and a third lookup went through.)
    const refusals = [];
    for (let n = 0; n < 3; n++) refusals.push(await limits.takeAuthAttempt(from));
    expect(refusals.map((refusal) => refusal !== null)).toEqual([false, false, true]);
  });
});
