import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEnvFile } from './env-file';

const dir = mkdtempSync(join(tmpdir(), 'funnelcast-env-'));
const file = join(dir, 'settings.env');
writeFileSync(file, ['# a comment', 'FC_SPEC_FROM_FILE=from file', 'FC_SPEC_SET_BOTH=from file', 'FC_SPEC_QUOTED="two words"', 'FC_SPEC_EMPTY=', ''].join('\n'));

it('reads the named file; the environment wins, empty values stay empty (defaults)', () => {
  const env: NodeJS.ProcessEnv = { FUNNELCAST_ENV_FILE: file, FC_SPEC_SET_BOTH: 'from environment' };
  expect(loadEnvFile(env)).toBe(file);
  expect(env).toEqual({
    FUNNELCAST_ENV_FILE: file,
    FC_SPEC_FROM_FILE: 'from file',
    FC_SPEC_SET_BOTH: 'from environment',
    FC_SPEC_QUOTED: 'two words',
    FC_SPEC_EMPTY: '',
  });
});

it('reads nothing when asked for none, or when there is no .env; a named file that is missing is an error', () => {
  expect(loadEnvFile({ FUNNELCAST_ENV_FILE: '' })).toBeNull();
  const cwd = process.cwd();
  process.chdir(dir); // holds settings.env, no .env
  try {
    expect(loadEnvFile({})).toBeNull();
    writeFileSync(join(dir, '.env'), 'FC_SPEC_FROM_FILE=dot env\n');
    const env: NodeJS.ProcessEnv = {};
    expect(loadEnvFile(env)).toBe(join(dir, '.env'));
    expect(env).toEqual({ FC_SPEC_FROM_FILE: 'dot env' });
  } finally {
    process.chdir(cwd);
  }
  expect(() => loadEnvFile({ FUNNELCAST_ENV_FILE: join(dir, 'nope.env') })).toThrow(/FUNNELCAST_ENV_FILE names .*nope\.env, which does not exist/);
});

it('ships a .env.example that changes nothing when copied to .env (every setting is commented out)', () => {
  const { parseEnv } = require('node:util') as typeof import('node:util');
  const { readFileSync } = require('node:fs') as typeof import('node:fs');
  const example = readFileSync(join(__dirname, '../.env.example'), 'utf8');
  expect(parseEnv(example)).toEqual({});
  // …and still documents the settings, one per commented line.
  expect(example).toMatch(/^# DATABASE_URL=/m);
  expect(example).toMatch(/^# FUNNELCAST_MIRROR_PROPS_LIMIT=1000000$/m);
});
