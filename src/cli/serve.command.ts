import { startApp } from '../app';
import { config } from '../config';
import { parseArgs } from './args';
import { requireDatabaseUrl } from './database';

/** `funnelcast serve`: the same as `npm start`. */
export async function run(argv: string[]): Promise<number> {
  if (parseArgs(argv).flags.help) {
    console.log('Usage: funnelcast serve\n\nApplies pending migrations, then serves GraphQL on PORT (default 4000). Needs DATABASE_URL.');
    return 0;
  }
  const app = await startApp({ ...config(), databaseUrl: requireDatabaseUrl() });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await app.stop();
  return 0;
}
