import { parseArgs as parseCommandLine } from 'node:util';

/** A command line the command cannot take; the message names the flag or word at fault. */
export class UsageError extends Error {}

/**
 * What a command accepts: each flag's kind (`--name value` / `--name=value`, or a bare `--flag`) and
 * whether bare words (files, ids) are allowed. `--help` and `-h` are always accepted.
 */
export interface ArgSpec {
  flags?: Record<string, 'string' | 'boolean'>;
  positionals?: boolean;
}

export interface ParsedArgs {
  flags: Record<string, string | boolean | undefined>;
  positional: string[];
}

/**
 * Node's own parser, strict: an unknown flag, a flag without its value, a value given to a boolean
 * flag or an unexpected word is a UsageError whose message names it.
 */
export function parseArgs(argv: string[], spec: ArgSpec = {}): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, type] of Object.entries(spec.flags ?? {})) options[name] = { type };
  try {
    // `values` has no prototype: `--constructor` is an unknown flag, and reading an absent one finds nothing.
    const { values, positionals } = parseCommandLine({ args: argv, options, strict: true, allowPositionals: spec.positionals ?? false });
    return { flags: values, positional: positionals };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code?.startsWith('ERR_PARSE_ARGS_')) throw new UsageError((error as Error).message);
    throw error;
  }
}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const value = args.flags[name];
  return typeof value === 'string' ? value : undefined;
}

export function intFlag(args: ParsedArgs, name: string, fallback: number, min = 0): number {
  const raw = stringFlag(args, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new UsageError(`--${name} must be a whole number ≥ ${min} (got "${raw}")`);
  return value;
}
