import type { TrainingJobWithVersion, TrainingService } from './training.service';

const FINISHED = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

/**
 * Polls training jobs (every `pollMs`, default 500) until each has finished (COMPLETED, FAILED or
 * CANCELLED), calling `onFinished` once per job as it finishes, in the order they finish, and
 * `onProgress` with every read of the unfinished ones. Returns the jobs as they ended, in the order
 * of `ids`. Reads PostgreSQL only, so it works while Redis is away. Used by the demo and by
 * `funnelcast train --wait`.
 */
export async function followTrainingJobs(
  training: Pick<TrainingService, 'get'>,
  ids: readonly string[],
  callbacks: { onFinished?: (job: TrainingJobWithVersion) => void; onProgress?: (running: TrainingJobWithVersion[]) => void } = {},
  pollMs = 500,
): Promise<TrainingJobWithVersion[]> {
  const ended = new Map<string, TrainingJobWithVersion>();
  for (;;) {
    const running: TrainingJobWithVersion[] = [];
    for (const id of ids) {
      if (ended.has(id)) continue;
      const job = await training.get(id);
      if (!job) throw new Error(`training job ${id} is gone`);
      if (FINISHED.has(job.state)) {
        ended.set(id, job);
        callbacks.onFinished?.(job);
      } else running.push(job);
    }
    if (running.length === 0) return ids.map((id) => ended.get(id)!);
    callbacks.onProgress?.(running);
    await new Promise((done) => setTimeout(done, pollMs));
  }
}

/** One line for a finished job: kind, state, seconds from start to finish, and the error if any. */
export function finishedJobLine(job: TrainingJobWithVersion): string {
  const seconds = job.startedAt && job.finishedAt ? ` in ${((job.finishedAt.getTime() - job.startedAt.getTime()) / 1000).toFixed(1)} s` : '';
  return `${job.kind.padEnd(26)} ${job.state}${seconds}${job.error ? `: ${job.error}` : ''}`;
}
