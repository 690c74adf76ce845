#!/usr/bin/env node
import 'reflect-metadata';
import { loadEnvFile } from '../env-file';

/**
 * The `funnelcast` command line. Each command is a module of `cli/` that calls into the domains
 * (never the reverse: domains do not import `cli/`), loaded only when asked for, so `funnelcast
 * keys` does not pay for the importer or the generator.
 */
interface CommandModule {
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  serve: { summary: 'run pending migrations, then serve the GraphQL API', load: () => import('./serve.command') },
  demo: { summary: 'start the server with a generated demo shop (embedded PostgreSQL if needed)', load: () => import('./demo.command') },
  migrate: { summary: 'apply pending database migrations', load: () => import('./migrate.command') },
  keys: { summary: 'create, list or revoke API keys', load: () => import('./keys.command') },
  import: { summary: 'bulk-import an event file (taobao, rees46, retailrocket, funnelcast-csv, ndjson)', load: () => import('./import.command') },
  train: { summary: 'queue training (--all: every model, anomaly detectors first) and optionally wait for it', load: () => import('./train.command') },
  generate: { summary: 'generate a synthetic demo shop with ground truth', load: () => import('./generate.command') },
  retention: { summary: 'remove events and feedback older than FUNNELCAST_RETENTION_DAYS, by whole months (--dry-run)', load: () => import('./retention.command') },
  forget: { summary: 'forget a user: every row, model row and in-memory copy (docs/privacy.md)', load: () => import('./forget.command') },
  'clickhouse-backfill': { summary: "copy PostgreSQL's events into ClickHouse (before FUNNELCAST_ANALYTICS=clickhouse)", load: () => import('./clickhouse-backfill.command') },
  schema: { summary: 'write schema.graphql from the code', load: () => import('./schema.command') },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: funnelcast <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "funnelcast <command> --help" for a command's options.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 1;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined; // "funnelcast constructor" is unknown, not Object's
  if (!command) {
    console.error(`Unknown command "${name}".\n\n${usage()}`);
    return 1;
  }
  const module = await command.load();
  return module.run(rest);
}

/** Runs the command line and sets the exit code; used by this file and by bin/funnelcast.js. */
export async function runCli(argv: string[]): Promise<void> {
  try {
    loadEnvFile();
    process.exitCode = await main(argv);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}

if (require.main === module) void runCli(process.argv.slice(2));
