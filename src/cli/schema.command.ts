import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot } from '../version';
import { parseArgs, UsageError } from './args';
import { printFunnelcastSchema } from '../schema';

export const SCHEMA_PATH = join(projectRoot(), 'schema.graphql');

/** `funnelcast schema [FILE]`: write schema.graphql (or FILE) from the code. */
export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { positionals: true });
  if (args.flags.help) {
    console.log('Usage: funnelcast schema [FILE]\n\nWrites the GraphQL schema (SDL) to FILE (default: schema.graphql in the repository).');
    return 0;
  }
  if (args.positional.length > 1) throw new UsageError(`give at most one FILE, not ${args.positional.length}`);
  const target = args.positional[0] ?? SCHEMA_PATH;
  const sdl = await printFunnelcastSchema();
  await writeFile(target, sdl);
  console.log(`Wrote ${target}`);
  return 0;
}
