import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { resolve } from 'node:path';
import { intFlag, parseArgs } from '../src/cli/args';
import { freePort } from './free-port';
import { benchDatabase } from './support';

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** POSTs `body` (bytes sent as they are) and resolves with the status once the answer is read; network errors resolve as 'ERR'. */
function post(url: URL, body: Buffer, key: string | null): Promise<number | 'ERR'> {
  return new Promise((done) => {
    const req = httpRequest(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': body.length, ...(key ? { authorization: `Bearer ${key}` } : {}) } },
      (response) => {
        response.resume();
        response.on('end', () => done(response.statusCode ?? 'ERR'));
        response.on('error', () => done('ERR'));
      },
    );
    req.on('error', () => done('ERR'));
    req.end(body);
  });
}

/**
 * `npm run bench body-stall [--attackers 4] [--seconds 10] [--keys 1000000] [--keyed]`
 *
 * The event-loop stall an anonymous client causes with large bodies: `attackers` loops post
 * `{"query":"{health{status}}","variables":{…}}` whose variables object has `keys` unused keys
 * (about 12 MB for a million), with no Authorization header (`--keyed`: with a valid admin key), to the API in its own process
 * (`dist/src/main.js`, default limits), while an admin polls `{ __typename }` every 50 ms. The
 * poller's latency is the stall every other client sees. Prints what the attackers got (HTTP
 * statuses) and the poller's p50, p90 and max; then the same poll with no attackers as the peer.
 */
export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { attackers: 'string', seconds: 'string', keys: 'string', keyed: 'boolean' } });
  const attackers = intFlag(args, 'attackers', 4, 0);
  const seconds = intFlag(args, 'seconds', 10, 1);
  const keys = intFlag(args, 'keys', 1_000_000, 1);
  const keyed = args.flags.keyed === true;
  const db = await benchDatabase('bench_body_stall');
  const port = await freePort();
  const adminKey = `bench-admin-${Date.now()}-0123456789`;
  let output = '';
  const child = spawn(process.execPath, [resolve(__dirname, '../src/main.js')], {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: db.url,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      FUNNELCAST_BOOTSTRAP_ADMIN_KEY: adminKey,
      FUNNELCAST_FUNNEL_WARMUP: 'false',
      FUNNELCAST_QUEUE_PREFIX: `bench-body-stall-${process.pid}`,
    },
  });
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    const url = new URL(`http://127.0.0.1:${port}/graphql`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start: ${output}`);
      try {
        if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    const variables: Record<string, number> = {};
    for (let i = 0; i < keys; i++) variables[`k${i}`] = 1;
    const big = Buffer.from(JSON.stringify({ query: '{health{status}}', variables }));
    const cheap = Buffer.from(JSON.stringify({ query: '{ __typename }' }));
    console.log(`attack body: ${big.length.toLocaleString('en-US')} bytes, ${keys.toLocaleString('en-US')} unused variables, ${keyed ? 'admin key' : 'no key'}; ${attackers} loops for ${seconds} s; server: ${url.origin} (own process, default limits)`);

    const poll = async (label: string, withAttack: number) => {
      let stop = false;
      const statuses: Record<string, number> = {};
      const loops = Array.from({ length: withAttack }, async () => {
        while (!stop) {
          const status = await post(url, big, keyed ? adminKey : null);
          statuses[status] = (statuses[status] ?? 0) + 1;
        }
      });
      const latencies: number[] = [];
      const end = Date.now() + seconds * 1000;
      while (Date.now() < end) {
        const started = performance.now();
        const status = await post(url, cheap, adminKey);
        if (status !== 200) throw new Error(`the poll got HTTP ${status}`);
        latencies.push(performance.now() - started);
        await sleep(50);
      }
      stop = true;
      await Promise.all(loops);
      latencies.sort((a, b) => a - b);
      const ms = (v: number) => `${v.toFixed(0)} ms`;
      console.log(
        `${label}: poll p50 ${ms(percentile(latencies, 50))}, p90 ${ms(percentile(latencies, 90))}, max ${ms(latencies[latencies.length - 1])} over ${latencies.length} polls` +
          (withAttack ? `; attacker answers ${JSON.stringify(statuses)}` : ''),
      );
    };
    await poll('under attack', attackers);
    await poll('peer, no attack', 0);
  } finally {
    if (child.exitCode === null) {
      await new Promise((done) => {
        child.once('exit', done);
        child.kill('SIGTERM');
      });
    }
    await db.drop();
  }
}
