import { connectRedis } from '../redis';
import { TrainingQueue } from './training.queue';

/** Nothing listens on port 1, so every connection attempt is refused at once. */
const NO_REDIS = 'redis://127.0.0.1:1';

describe('TrainingQueue shutdown while Redis is away', () => {
  it('closes the queue and then the connection without an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      // The API at shutdown: the dashboard made the queue at start, Redis never answered, the queue
      // is closed and then the app's connection. The first refusal may or may not have arrived yet.
      for (let round = 0; round < 10; round++) {
        const redis = connectRedis(NO_REDIS);
        const queue = new TrainingQueue(redis, { redisUrl: NO_REDIS, queuePrefix: 'shutdown-spec' });
        queue.bullQueue();
        await new Promise((resolve) => (round % 2 ? setTimeout(resolve, 20) : setImmediate(resolve)));
        await queue.close();
        redis.disconnect();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      process.off('unhandledRejection', record);
    }
    expect(unhandled.map(String)).toEqual([]);
  });
});
