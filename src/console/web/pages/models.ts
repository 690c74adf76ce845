import { gql } from '../api.js';
import type { Page } from '../main.js';
import { busy, dateTime, duration, el, errorBox, field, number, section, select, table } from '../ui.js';

export const MODEL_KINDS = [
  'POPULARITY', 'ITEM_KNN', 'MATRIX_FACTORIZATION', 'SESSION_KNN', 'SESSION_GRU', 'RECOMMENDATION_BLEND',
  'NEXT_STEP', 'PURCHASE_PROPENSITY', 'ANOMALY_STATISTICAL', 'ANOMALY_ISOLATION_FOREST', 'ANOMALY_SUPERVISED',
];
const FINAL_STATES = ['COMPLETED', 'FAILED', 'CANCELLED'];
/** How often the jobs are read: every second while one is queued or running, else every 5 s (jobs queued elsewhere show up). */
const POLL_MS = 1000;
const IDLE_POLL_MS = 5000;

interface ModelVersion {
  id: string;
  version: number;
  status: string;
  backend: string;
  createdAt: string;
  activatedAt: string | null;
  trainedFrom: string | null;
  trainedTo: string;
  trainingSeconds: number | null;
  eventCount: number | null;
  metrics: Record<string, unknown> | null;
}

interface TrainingJob {
  id: string;
  kind: string;
  state: string;
  progress: number;
  message: string | null;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  modelVersion: { version: number; status: string } | null;
}

interface MetricsComparison {
  columns: string[];
  rows: { metric: string; values: (number | undefined)[] }[];
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The model's figures beside its baselines, whatever the kind: the first object (breadth first)
 * under metrics.evaluation that has a `model` object; its siblings named like "…baseline…" are
 * baselines, and a `baselines` map gives one per entry. Without one, the evaluation's numbers alone.
 */
export function compareMetrics(metrics: Json | null): MetricsComparison {
  const root = metrics && isObject(metrics.evaluation) ? metrics.evaluation : metrics;
  if (!root) return { columns: [], rows: [] };
  const queue: Json[] = [root];
  while (queue.length) {
    const node = queue.shift()!;
    if (isObject(node.model)) {
      const model = node.model;
      const baselines: [string, Json][] = [];
      for (const [key, value] of Object.entries(node)) {
        if (key === 'baselines' && isObject(value)) for (const [name, figures] of Object.entries(value)) if (isObject(figures)) baselines.push([name, figures]);
        if (/baseline/i.test(key) && key !== 'baselines' && isObject(value)) baselines.push([key, value]);
      }
      const metricNames = Object.keys(model).filter((key) => typeof model[key] === 'number');
      return {
        columns: ['model', ...baselines.map(([name]) => name)],
        rows: metricNames.map((metric) => ({ metric, values: [model[metric] as number, ...baselines.map(([, figures]) => (typeof figures[metric] === 'number' ? (figures[metric] as number) : undefined))] })),
      };
    }
    for (const value of Object.values(node)) if (isObject(value)) queue.push(value);
  }
  return {
    columns: ['value'],
    rows: Object.entries(root).filter(([, value]) => typeof value === 'number').slice(0, 12).map(([metric, value]) => ({ metric, values: [value as number] })),
  };
}

function metricsTable(metrics: Json | null): HTMLElement {
  const comparison = compareMetrics(metrics);
  if (!comparison.rows.length) return el('span', { class: 'muted' }, 'no metrics');
  return table(
    [{ title: 'metric', value: (row: MetricsComparison['rows'][number]) => row.metric }, ...comparison.columns.map((column, index) => ({ title: column, value: (row: MetricsComparison['rows'][number]) => number(row.values[index], Number.isInteger(row.values[index]) ? 0 : 4), numeric: true }))],
    comparison.rows,
  );
}

const badge = (state: string) => el('span', { class: `badge ${state}` }, state);

/** Models (admin): versions per kind with metrics beside baselines, activation and roll-back, training jobs with live progress, schedules. */
export const modelsPage: Page = {
  path: 'models',
  title: 'Models',
  roles: ['ADMIN'],
  render(container) {
    const kind = select('kind', MODEL_KINDS, 'POPULARITY');
    const versionsArea = el('div', { 'data-testid': 'model-versions' });
    const jobsArea = el('div', { 'data-testid': 'training-jobs' });
    const schedulesArea = el('div', { 'data-testid': 'training-schedules' });
    const errors = errorBox();
    const params = el('input', { name: 'params', placeholder: '{"epochs": 2}', size: 28 });
    const activate = el('input', { type: 'checkbox', name: 'activate', checked: true });
    const enqueue = el('button', { type: 'button', class: 'primary', 'data-testid': 'enqueue-training' }, 'Enqueue training');
    const cron = el('input', { name: 'cron', placeholder: '0 3 * * *', size: 12 });
    const schedule = el('button', { type: 'button' }, 'Schedule');
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finished = new Set<string>();
    let firstRead = true;
    let stopped = false;

    function parsedParams(): Json | undefined {
      if (!params.value.trim()) return undefined;
      const value: unknown = JSON.parse(params.value);
      if (!isObject(value)) throw new Error('Params must be a JSON object, e.g. {"epochs": 2}.');
      return value;
    }

    async function loadVersions(): Promise<void> {
      const data = await gql<{ modelVersions: ModelVersion[] }>(
        'query ConsoleModelVersions($kind: ModelKind!) { modelVersions(kind: $kind) { id version status backend createdAt activatedAt trainedFrom trainedTo trainingSeconds eventCount metrics } }',
        { kind: kind.value },
      );
      const action = (label: string, mutation: string, id: string) =>
        el('button', { type: 'button', 'data-action': label.toLowerCase(), onclick: () => void busy(null, errors, async () => { await gql(mutation, { id }); await loadVersions(); }) }, label);
      const activeVersion = data.modelVersions.find((version) => version.status === 'ACTIVE')?.version ?? 0;
      versionsArea.replaceChildren(
        data.modelVersions.length
          ? table(
              [
                { title: 'Version', value: (version: ModelVersion) => version.version },
                { title: 'Status', value: (version) => badge(version.status) },
                { title: 'Data', value: (version) => `${dateTime(version.trainedFrom)} → ${dateTime(version.trainedTo)}` },
                { title: 'Events', value: (version) => number(version.eventCount), numeric: true },
                { title: 'Trained in', value: (version) => `${duration(version.trainingSeconds)} (${version.backend})` },
                { title: 'Held-out metrics beside baselines', value: (version) => metricsTable(version.metrics) },
                {
                  title: '',
                  value: (version) =>
                    version.status === 'READY'
                      ? el('span', {}, action(version.version < activeVersion ? 'Roll back' : 'Activate', 'mutation ConsoleActivateModelVersion($id: ID!) { activateModelVersion(id: $id) { id } }', version.id), ' ', action('Retire', 'mutation ConsoleRetireModelVersion($id: ID!) { retireModelVersion(id: $id) { id } }', version.id))
                      : null,
                },
              ],
              data.modelVersions,
              'model-versions-table',
            )
          : el('p', { class: 'muted' }, `No ${kind.value} versions yet: enqueue a training.`),
      );
    }

    async function loadJobs(): Promise<boolean> {
      const data = await gql<{ trainingJobs: { edges: { node: TrainingJob }[] } }>(
        'query ConsoleTrainingJobs { trainingJobs(first: 15) { edges { node { id kind state progress message error createdAt startedAt finishedAt modelVersion { version status } } } } }',
      );
      const jobs = data.trainingJobs.edges.map((edge) => edge.node);
      jobsArea.replaceChildren(
        jobs.length
          ? table(
              [
                { title: 'Kind', value: (job: TrainingJob) => job.kind },
                { title: 'State', value: (job) => badge(job.state) },
                { title: 'Progress', value: (job) => el('span', {}, el('progress', { max: 1, value: job.progress, 'data-job-id': job.id, 'data-progress': job.progress }), ` ${(job.progress * 100).toFixed(0)} %`) },
                { title: 'Now', value: (job) => job.error ?? job.message ?? '' },
                { title: 'Version', value: (job) => (job.modelVersion ? `v${job.modelVersion.version} ${job.modelVersion.status}` : '–') },
                { title: 'Queued', value: (job) => dateTime(job.createdAt) },
                {
                  title: '',
                  value: (job) =>
                    FINAL_STATES.includes(job.state)
                      ? job.state === 'COMPLETED' ? null : el('button', { type: 'button', onclick: () => void busy(null, errors, async () => { await gql('mutation ConsoleRetryTrainingJob($id: ID!) { retryTrainingJob(id: $id) { id } }', { id: job.id }); await loadJobs(); }) }, 'Retry')
                      : el('button', { type: 'button', 'data-action': 'cancel', onclick: () => void busy(null, errors, async () => { await gql('mutation ConsoleCancelTrainingJob($id: ID!) { cancelTrainingJob(id: $id) { id } }', { id: job.id }); await loadJobs(); }) }, 'Cancel'),
                },
              ],
              jobs,
              'training-jobs-table',
            )
          : el('p', { class: 'muted' }, 'No training jobs yet.'),
      );
      const finishedNow = jobs.filter((job) => FINAL_STATES.includes(job.state) && !finished.has(job.id)).map((job) => job.id);
      for (const id of finishedNow) finished.add(id);
      // A job that just ended may have made a new version (or activated one): show it without waiting for the rest.
      if (finishedNow.length && !firstRead) await loadVersions();
      firstRead = false;
      return jobs.some((job) => !FINAL_STATES.includes(job.state));
    }

    /** Reads the jobs again and again until the user leaves the page; see POLL_MS. */
    async function poll(): Promise<void> {
      if (stopped) return;
      let running = false;
      try {
        running = await loadJobs();
      } catch (error) {
        errors.show(error);
      }
      if (stopped) return;
      timer = setTimeout(() => void poll(), running ? POLL_MS : IDLE_POLL_MS);
    }

    async function loadSchedules(): Promise<void> {
      const data = await gql<{ trainingSchedules: { id: string; kind: string; cron: string; params: Json; createdAt: string }[] }>('query ConsoleTrainingSchedules { trainingSchedules { id kind cron params createdAt } }');
      schedulesArea.replaceChildren(
        data.trainingSchedules.length
          ? table(
              [
                { title: 'Kind', value: (row: (typeof data.trainingSchedules)[number]) => row.kind },
                { title: 'Cron (UTC)', value: (row) => row.cron },
                { title: 'Params', value: (row) => JSON.stringify(row.params) },
                { title: '', value: (row) => el('button', { type: 'button', onclick: () => void busy(null, errors, async () => { await gql('mutation ConsoleUnscheduleTraining($id: ID!) { unscheduleTraining(id: $id) { id } }', { id: row.id }); await loadSchedules(); }) }, 'Unschedule') },
              ],
              data.trainingSchedules,
            )
          : el('p', { class: 'muted' }, 'No schedules.'),
      );
    }

    enqueue.addEventListener('click', () =>
      void busy(enqueue, errors, async () => {
        await gql('mutation ConsoleTrainModel($input: TrainModelInput!) { trainModel(input: $input) { id } }', { input: { kind: kind.value, params: parsedParams(), activate: activate.checked } });
        clearTimeout(timer);
        await poll();
      }),
    );
    schedule.addEventListener('click', () =>
      void busy(schedule, errors, async () => {
        await gql('mutation ConsoleScheduleTraining($kind: ModelKind!, $cron: String!, $params: JSONObject) { scheduleTraining(kind: $kind, cron: $cron, params: $params) { id } }', { kind: kind.value, cron: cron.value.trim(), params: parsedParams() });
        cron.value = '';
        await loadSchedules();
      }),
    );
    kind.addEventListener('change', () => void busy(null, errors, loadVersions));

    container.append(
      section('Kind', field('Model kind', kind), field('Params (JSON, optional)', params), field('Activate when ready', activate), el('p', {}, enqueue, ' ', cron, ' ', schedule), errors),
      section('Versions', versionsArea),
      section('Training jobs', jobsArea),
      section('Schedules', schedulesArea),
    );
    void busy(null, errors, async () => {
      await Promise.all([loadVersions(), loadSchedules()]);
      await poll();
    });
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  },
};
