/** A small, strict flag parser: `--name value`, `--name=value` and boolean `--flag`. */
export interface ParsedArgs {
  flags: Record<string, string | boolean>;
  positional: string[];
}

export class UsageError extends Error {}

export function parseArgs(argv: string[], booleanFlags: string[] = []): ParsedArgs {
  // No prototype: `--constructor` or `--__proto__` is just an unknown flag, and reading a flag never finds Object's members.
  const flags: Record<string, string | boolean> = Object.create(null);
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (eq !== -1) flags[name] = arg.slice(eq + 1);
    else if (booleanFlags.includes(name)) flags[name] = true;
    else {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
      flags[name] = value;
      i++;
    }
  }
  return { flags, positional };
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
