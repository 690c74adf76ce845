import Redis from 'ioredis';
import { logger } from './logger';

/**
 * A Redis connection that never takes the API down: commands fail fast while Redis is away
 * (no offline queue), and it keeps reconnecting in the background.
 */
export function connectRedis(url: string): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 500, 5000),
  });
  let reported = false;
  redis.on('error', (error: Error) => {
    if (!reported) logger().warn({ err: error.message, url: redactUrl(url) }, 'Redis unavailable; training and queues will fail until it is back');
    reported = true;
  });
  redis.on('ready', () => {
    if (reported) logger().info('Redis connection restored');
    reported = false;
  });
  redis.connect().catch(() => undefined);
  return redis;
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparsable url>';
  }
}
