import 'reflect-metadata';
import { config } from './config';
import { loadEnvFile } from './env-file';
import { startApp } from './app';
import { logger } from './logger';
import { logUnhandledFailures } from './process-safety';

/** `npm start`: the API process. Needs DATABASE_URL (the demo command finds or starts a database for you). */
async function main(): Promise<void> {
  logUnhandledFailures();
  loadEnvFile();
  const settings = config();
  if (!settings.databaseUrl) {
    throw new Error('DATABASE_URL is not set. Point it at PostgreSQL (postgres://user@host:5432/db), or run `npm run demo` to start one for you.');
  }
  const app = await startApp({ ...settings, databaseUrl: settings.databaseUrl });
  const shutdown = (signal: string) => {
    logger().info({ signal }, 'shutting down');
    app.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
