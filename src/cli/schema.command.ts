import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot } from '../version';
import { printFunnelcastSchema } from '../schema';

export const SCHEMA_PATH = join(projectRoot(), 'schema.graphql');

/** `funnelcast schema [--check]`: write schema.graphql from the code, or fail when it is stale. */
export async function run(argv: string[]): Promise<number> {
  const sdl = await printFunnelcastSchema();
  const target = argv.find((arg) => !arg.startsWith('--')) ?? SCHEMA_PATH;
  if (argv.includes('--help')) {
    console.log('Usage: funnelcast schema [FILE]\n\nWrites the GraphQL schema (SDL) to FILE (default: schema.graphql in the repository).');
    return 0;
  }
  await writeFile(target, sdl);
  console.log(`Wrote ${target}`);
  return 0;
}
