import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';

/**
 * Reads a `.env` file into `env` (process.env) at start, with Node's own parser (`util.parseEnv`,
 * the format of `.env.example` and of `node --env-file`: NAME=value lines, # comments, quotes). A variable already set in
 * the environment keeps its value, so a deployment's settings win over the file; an empty value
 * (`NAME=`) means "use the default", as it does in the environment.
 *
 * Which file: `FUNNELCAST_ENV_FILE` when set (an empty value reads none), else `.env` in the
 * working directory. A missing `.env` is fine (nothing is read); a missing file named by
 * FUNNELCAST_ENV_FILE is an error, since someone asked for it. Every entry point (the API, the
 * worker, the command line) calls this before reading the configuration.
 *
 * Returns the absolute path read, or null when none was.
 */
export function loadEnvFile(env: NodeJS.ProcessEnv = process.env): string | null {
  const named = env.FUNNELCAST_ENV_FILE;
  if (named === '') return null;
  const path = resolve(named ?? '.env');
  if (!existsSync(path)) {
    if (named !== undefined) throw new Error(`FUNNELCAST_ENV_FILE names ${path}, which does not exist; set it to a settings file, or to an empty value to read none.`);
    return null;
  }
  for (const [name, value] of Object.entries(parseEnv(readFileSync(path, 'utf8')))) if (env[name] === undefined) env[name] = value;
  return path;
}
