import { once } from 'node:events';
import { config } from '../config';
import { UserFacingError } from '../graphql/errors';
import { connectRedis, redactUrl } from '../redis';
import { finishedJobLine, followTrainingJobs } from '../training/follow-jobs';
import { ModelKind } from '../training/model-kind';
import { createTrainingService } from '../services';
import type { TrainingJobWithVersion } from '../training/training.service';
import { parseArgs, stringFlag, UsageError } from './args';
import { withDatabase } from './database';
import { trainingProgressBar, withProgress } from './progress';

const USAGE = `Usage: funnelcast train --all [--params JSON] [--wait]
       funnelcast train --kind KIND [--params JSON] [--wait]

Queues training of the shop at DATABASE_URL on the queue at REDIS_URL, as the trainAll and
trainModel mutations do; a worker (npm run worker) trains. Over unchanged data the same request
returns the jobs that already trained.

  --all          every kind: the anomaly detectors first, then, waiting for them, every model
                 that leaves out the users they flag (ANOMALY_SUPERVISED only with enough labels)
  --kind KIND    one kind: ${Object.values(ModelKind).join(', ')}
  --params JSON  with --kind, that kind's params ('{"epochs":8}'); with --all, params by kind
                 ('{"SESSION_GRU":{"epochs":8}}'); anything left out takes its default
  --wait         follow the jobs until each has finished, one line per job as it does; the exit
                 code is 1 unless every job completed
  --help         show this text`;


function jsonFlag(raw: string | undefined): unknown {
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new UsageError(`--params is not JSON (${(error as Error).message}); example: --params '{"epochs":8}'`);
  }
}

/** `funnelcast train`: queue training from the command line and optionally follow it to the end. */
export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { flags: { all: 'boolean', kind: 'string', params: 'string', wait: 'boolean' } });
  if (args.flags.help) {
    console.log(USAGE);
    return 0;
  }
  const kind = stringFlag(args, 'kind');
  if (Boolean(args.flags.all) === (kind !== undefined)) throw new UsageError(`pass either --all or --kind KIND\n\n${USAGE}`);
  const params = jsonFlag(stringFlag(args, 'params'));
  const settings = config();

  return withDatabase(async (dataSource) => {
    const redis = connectRedis(settings.redisUrl);
    try {
      const timeout = AbortSignal.timeout(5000);
      await once(redis, 'ready', { signal: timeout }).catch(() => {
        throw new Error(`Redis at ${redactUrl(settings.redisUrl)} does not answer; training needs it. Start redis-server or set REDIS_URL.`);
      });
      const training = createTrainingService(dataSource, redis, settings);
      let jobs: TrainingJobWithVersion[];
      try {
        if (kind !== undefined) jobs = [await training.trainModel({ kind: kind as ModelKind, params })];
        else {
          const all = await training.trainAll({ params });
          jobs = all.jobs;
          for (const skipped of all.skipped) console.log(`skipped ${skipped.kind}: ${skipped.reason}`);
        }
      } catch (error) {
        if (error instanceof UserFacingError) throw new UsageError(error.message);
        throw error;
      }
      for (const job of jobs) {
        const waits = job.waitsFor.length ? `, after ${job.waitsFor.length} job${job.waitsFor.length === 1 ? '' : 's'}` : '';
        console.log(`${job.kind.padEnd(26)} ${job.id}  ${job.state}${waits}`);
      }
      if ((await training.workerCount()) === 0) console.log('No worker is connected: the jobs wait until one starts (npm run worker, same DATABASE_URL and REDIS_URL).');
      if (!args.flags.wait) return 0;
      const ids = jobs.map((job) => job.id);
      let finished = 0;
      const bar = trainingProgressBar(ids.length);
      // With a bar on the terminal, the finished jobs' lines wait until it is gone: written while it
      // draws, they would land inside it. Without one (a pipe, CI) each is printed as its job ends.
      const later: string[] = [];
      const ended = await withProgress(bar, (onProgress) =>
        followTrainingJobs(training, ids, {
          onFinished: (job) => {
            finished++;
            if (bar) later.push(finishedJobLine(job));
            else console.log(finishedJobLine(job));
          },
          onProgress: (running) => onProgress?.({ finished, running: running.map((job) => ({ kind: job.kind, progress: job.progress, message: job.message })) }),
        }),
      );
      for (const line of later) console.log(line);
      return ended.every((job) => job.state === 'COMPLETED') ? 0 : 1;
    } finally {
      redis.disconnect();
    }
  });
}
