import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { resolve } from 'node:path';
import type { TestApp } from './app';

/** The compiled worker entry (`npm test` builds first), run as `npm run worker` runs it. */
export const WORKER_ENTRY = resolve(__dirname, '../../dist/workers/main.js');

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/** A real worker process on the test's database and its own queue prefix. */
export class WorkerProcess {
  private log = '';
  readonly child: ChildProcessWithoutNullStreams;

  constructor(databaseUrl: string, queuePrefix: string, env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [WORKER_ENTRY], {
      // Workers run side by side: none takes the default metrics port unless the test asks.
      env: { ...process.env, LOG_LEVEL: 'silent', DATABASE_URL: databaseUrl, FUNNELCAST_QUEUE_PREFIX: queuePrefix, FUNNELCAST_WORKER_METRICS_PORT: 'off', ...env },
    });
    this.child.stdout.on('data', (chunk: Buffer) => (this.log += chunk.toString()));
    this.child.stderr.on('data', (chunk: Buffer) => (this.log += chunk.toString()));
  }

  /** Everything the process printed, for failure messages. */
  get output(): string {
    return this.log;
  }

  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.log.includes('worker ready')) {
      if (Date.now() > deadline || this.child.exitCode !== null) throw new Error(`worker did not start: ${this.log}`);
      await sleep(50);
    }
  }

  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve(this.child.exitCode);
    return new Promise((done) => {
      this.child.once('exit', (code) => done(code));
      this.child.kill(signal);
    });
  }
}

export interface FinishedTrainingJob {
  id: string;
  state: string;
  error: string | null;
  modelVersion: { id: string; status: string; metrics: any } | null;
}

/** Queues `trainModel(input)` over GraphQL and polls `trainingJob` until it ends (COMPLETED, FAILED or CANCELLED). */
/**
 * Queues a training job and polls until it ends. The deadline is only a guard against a hang, not
 * a speed check: on a 2-core machine shared with other work, small test models can take minutes.
 */
export async function trainAndWait(t: TestApp, input: Record<string, unknown>, timeoutMs = 240_000, worker?: WorkerProcess): Promise<FinishedTrainingJob> {
  const queued = await t.gql<{ trainModel: { id: string } }>(`mutation($input: TrainModelInput!) { trainModel(input: $input) { id } }`, { input });
  if (!queued.data) throw new Error(JSON.stringify(queued.errors));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await t.gql<{ trainingJob: FinishedTrainingJob }>(
      `query($id: ID!) { trainingJob(id: $id) { id state error modelVersion { id status metrics } } }`,
      { id: queued.data.trainModel.id },
    );
    const job = result.data!.trainingJob;
    if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(job.state)) return job;
    if (worker && (worker.child.exitCode !== null || worker.child.signalCode !== null)) {
      throw new Error(`the worker process ended while ${String(input.kind)} was ${job.state}: ${worker.output}`);
    }
    if (Date.now() > deadline) throw new Error(`training ${String(input.kind)} did not finish: ${JSON.stringify(job)} ${worker?.output ?? ''}`);
    await sleep(100);
  }
}
