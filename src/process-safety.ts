import { logger } from './logger';

/**
 * The last resort, not the fix: failures are handled where they happen (see withPgClient in
 * src/db/data-source.ts). Should one slip through anyway, it is logged as JSON like everything
 * else. A stray rejected promise leaves no state half-changed, so the process serves on; after an
 * uncaught exception nothing can be trusted, so the process exits and its supervisor restarts it.
 */
export function logUnhandledFailures(): void {
  process.on('unhandledRejection', (reason) => {
    logger().error({ err: reason }, 'unhandled rejection (a bug: a promise failed with nobody waiting for it)');
  });
  process.on('uncaughtException', (error) => {
    logger().fatal({ err: error }, 'uncaught exception; exiting');
    process.exit(1);
  });
}
