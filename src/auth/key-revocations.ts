import Redis from 'ioredis';
import { logger } from '../logger';

/**
 * Tells every API process at once that an API key was revoked, over Redis pub/sub, so their
 * authentication caches drop it. Publishing rides on the API's fail-fast connection; listening
 * needs a connection of its own (a subscribed connection can do nothing else), which reconnects
 * and resubscribes by itself. Best effort by design: a message lost while Redis is away is covered
 * by the short lifetime of cached keys (see ApiKeyService), and every reconnect also clears the cache.
 */
export class KeyRevocations {
  private readonly subscriber: Redis;
  private readonly channel: string;
  private listeners: ((keyId: string | null) => void)[] = [];

  /** `namespace`: the deployment's queue prefix, so deployments sharing one Redis do not hear each other. */
  constructor(
    private readonly publisher: Redis,
    namespace: string,
  ) {
    this.channel = `${namespace}:api-keys:revoked`;
    this.subscriber = publisher.duplicate({ lazyConnect: true, enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: true });
    this.subscriber.on('error', () => undefined); // the API's main connection already reports Redis trouble
    this.subscriber.on('message', (channel: string, keyId: string) => {
      if (channel === this.channel) this.emit(keyId);
    });
    let connectedBefore = false;
    this.subscriber.on('ready', () => {
      // Revocations published while this connection was down were missed: forget everything cached.
      if (connectedBefore) this.emit(null);
      connectedBefore = true;
    });
    this.subscriber.connect().catch(() => undefined);
    this.subscriber.subscribe(this.channel).catch(() => undefined);
  }

  /** Calls `listener` with a revoked key's id, or with null when anything may have been revoked. */
  onRevoked(listener: (keyId: string | null) => void): void {
    this.listeners.push(listener);
  }

  /** Announces a revocation to every process (this one included); false when Redis did not take it. */
  async publish(keyId: string): Promise<boolean> {
    try {
      await this.publisher.publish(this.channel, keyId);
      return true;
    } catch (error) {
      logger().warn({ err: (error as Error).message, keyId }, 'could not announce a key revocation over Redis; other API processes drop the key within their cache lifetime');
      return false;
    }
  }

  close(): void {
    this.subscriber.disconnect();
  }

  private emit(keyId: string | null): void {
    for (const listener of this.listeners) listener(keyId);
  }
}
