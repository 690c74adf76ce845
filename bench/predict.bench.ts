import { randomBytes } from 'node:crypto';
import { startApp } from '../src/app';
import { intFlag, parseArgs } from '../src/cli/args';
import { loadConfig } from '../src/config';
import { withPgClient } from '../src/db/data-source';
import { loadTf } from '../src/ml/tf-backend';
import { createDemoShop } from '../src/sim';
import { MODEL_KINDS } from '../src/model-kinds';
import { ModelKind } from '../src/training/model-kind';
import { benchDatabase, elapsedSeconds, loadBenchShop, rate } from './support';
import { PostgresTrainingEvents } from '../src/training-events';

/**
 * `npm run bench predict [--users 2000] [--days 21] [--requests 400] [--concurrency 8]`: live
 * predictNextStep (an unstored visit), purchasePropensity and sessionPurchasePropensity latency
 * under concurrent load over HTTP, against the trivial `health` query in the same server and run;
 * and batch scoring throughput (users per second through the stored-score path).
 */
export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { users: 'string', days: 'string', requests: 'string', concurrency: 'string' } });
  const users = intFlag(args, 'users', 2000, 10);
  const days = intFlag(args, 'days', 21, 8);
  const requests = intFlag(args, 'requests', 400, 10);
  const concurrency = intFlag(args, 'concurrency', 8, 1);
  process.env.LOG_LEVEL ??= 'warn';
  const { tf, backend } = await loadTf();
  const shop = createDemoShop({ users, days, seed: 21 });
  const db = await benchDatabase('bench_predict');
  try {
    await loadBenchShop(db.dataSource, shop);
    const from = new Date(shop.options.startMs);
    const to = new Date(shop.options.endMs);
    console.log(`predict benchmark: demo shop of ${users} users over ${days} days; TensorFlow.js ${backend.name} (${backend.detail}); ${requests} requests per query, ${concurrency} in flight`);

    // Train both kinds in process (the worker's code path without the queue) and store them ACTIVE.
    const trained: Record<string, number> = {};
    for (const kind of [ModelKind.NEXT_STEP, ModelKind.PURCHASE_PROPENSITY]) {
      const definition = MODEL_KINDS[kind];
      const params = definition.parseParams({ refit: false });
      const started = process.hrtime.bigint();
      const model = await definition.train({ dataSource: db.dataSource, events: new PostgresTrainingEvents(db.dataSource), tf, backend, params, from, to, excludedUsers: new Set<number>(), progress: async () => undefined });
      const trainSeconds = elapsedSeconds(started);
      const scoreStarted = process.hrtime.bigint();
      const [{ id }] = await db.dataSource.query(
        `INSERT INTO model_versions (kind, version, status, params, metrics, backend, trained_from, trained_to, artifact, activated_at)
         VALUES ($1, 1, 'ACTIVE', $2, $3, $4, $5, $6, $7, now()) RETURNING id`,
        [kind, params, model.metrics, backend.name, from, to, model.artifact],
      );
      const rows = await withPgClient(db.dataSource, async (client) => {
        await client.query('BEGIN');
        const written = await model.writeScores(client, id);
        await client.query('COMMIT');
        return written;
      });
      trained[kind] = id;
      console.log(`${kind}: trained in ${trainSeconds.toFixed(1)} s (${definition.kind === ModelKind.NEXT_STEP ? 'evaluation fit' : 'users and visits, evaluation fits'}), ${rows} score rows written in ${elapsedSeconds(scoreStarted).toFixed(2)} s`);
    }

    // Batch scoring alone: featurise every active user at `to`, run the user model, COPY the scores.
    {
      const { loadHistories } = await import('../src/predict/event-history');
      const { userExamples } = await import('../src/predict/datasets');
      const { predictPropensity } = await import('../src/predict/propensity-model');
      const { decodePropensityArtifact } = await import('../src/predict/prediction-artifact');
      const [{ artifact }] = await db.dataSource.query(`SELECT artifact FROM model_versions WHERE id = $1`, [trained[ModelKind.PURCHASE_PROPENSITY]]);
      const loaded = decodePropensityArtifact(tf, artifact);
      const started = process.hrtime.bigint();
      const histories = await loadHistories(db.dataSource, null, to);
      const loadedAt = elapsedSeconds(started);
      const examples = userExamples(histories, to.getTime(), loaded.settings.horizonHours * 3_600_000, loaded.settings.activeDays * 86_400_000, loaded.user.config.window);
      const featurisedAt = elapsedSeconds(started);
      const scores = predictPropensity(tf, loaded.user, examples.examples);
      const seconds = elapsedSeconds(started);
      console.log(
        `batch scoring: ${scores.length} active users in ${seconds.toFixed(2)} s = ${rate(scores.length, seconds)} (read events ${loadedAt.toFixed(2)} s, features ${(featurisedAt - loadedAt).toFixed(2)} s, model ${(seconds - featurisedAt).toFixed(2)} s)`,
      );

      // One live request's network work in process (no HTTP, no SQL): the served forward pass with
      // its explanation, against the same rows through the tfjs model (how requests ran before).
      const { explainNextStep, explainPropensity } = await import('../src/predict/explain');
      const { NextStepNetworkForward, servedPropensity } = await import('../src/predict/serving-networks');
      const { decodeNextStepArtifact } = await import('../src/predict/prediction-artifact');
      const { USER_FEATURES, STEP_WIDTH, userFeatures } = await import('../src/predict/features');
      const { encodeWindow } = await import('../src/predict/propensity-model');
      const [{ artifact: nextStepArtifact }] = await db.dataSource.query(`SELECT artifact FROM model_versions WHERE id = $1`, [trained[ModelKind.NEXT_STEP]]);
      const nextStep = decodeNextStepArtifact(tf, nextStepArtifact);
      const cases = histories.slice(0, 200).map((h) => ({ events: h.events, features: userFeatures(h.events, to.getTime()), visit: h.events.slice(-10) }));
      const perCall = (work: (n: number) => void) => {
        for (let n = 0; n < 50; n++) work(n);
        const t0 = performance.now();
        for (let n = 0; n < 1000; n++) work(n);
        return ((performance.now() - t0) / 1000).toFixed(3);
      };
      const served = servedPropensity(loaded.user);
      const forward = NextStepNetworkForward.of(nextStep.model);
      const groups = new Set(USER_FEATURES.map((f) => f.group)).size + 2;
      const { window, featureCount } = loaded.user.config;
      const plainPropensity = perCall((n) => explainPropensity(served, cases[n % cases.length].events, cases[n % cases.length].features, USER_FEATURES));
      const tfPropensity = perCall((n) => {
        const sequences = new Float32Array(groups * window * STEP_WIDTH);
        for (let r = 0; r < groups; r++) sequences.set(encodeWindow(cases[n % cases.length].events, window), r * window * STEP_WIDTH);
        tf.tidy(() => (loaded.user.network.predict([tf.tensor3d(sequences, [groups, window, STEP_WIDTH]), tf.zeros([groups, featureCount])]) as import('@tensorflow/tfjs').Tensor).dataSync());
      });
      const plainNextStep = perCall((n) => explainNextStep(forward, cases[n % cases.length].visit, nextStep.config.window));
      const tfNextStep = perCall((n) => {
        const visit = cases[n % cases.length].visit;
        const inputs = new Float32Array(8 * visit.length * STEP_WIDTH);
        tf.tidy(() => (nextStep.model.predict(tf.tensor3d(inputs, [8, visit.length, STEP_WIDTH])) as import('@tensorflow/tfjs').Tensor).dataSync());
      });
      console.log(`per live request, in process: propensity with explanation ${plainPropensity} ms (the same ${groups} rows through tfjs: ${tfPropensity} ms); next step with explanation ${plainNextStep} ms (8 rows through tfjs: ${tfNextStep} ms)`);
      nextStep.model.dispose();
      loaded.user.network.dispose();
      loaded.visit.network.dispose();
    }

    const key = `bench-${randomBytes(12).toString('hex')}`;
    const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn', HOST: '127.0.0.1', FUNNELCAST_BOOTSTRAP_ADMIN_KEY: key });
    const app = await startApp({ ...config, databaseUrl: db.url }, { port: 0 });
    try {
      const userIds: string[] = (await db.dataSource.query(`SELECT u.external_id FROM purchase_propensity_scores s JOIN users u ON u.id = s.user_id LIMIT 200`)).map((r: { external_id: string }) => r.external_id);
      const base = Date.parse('2026-01-20T10:00:00Z');
      const visit = (n: number) =>
        Array.from({ length: 3 + (n % 8) }, (_, i) => ({
          type: i === 4 ? 'cart' : 'view',
          timestamp: new Date(base + n * 1000 + i * 30_000).toISOString(),
          itemId: shop.items[(n * 7 + i) % shop.items.length].itemId,
          device: n % 2 ? 'mobile' : 'desktop',
          channel: 'organic',
        }));
      const queries: Record<string, (n: number) => { query: string; variables?: Record<string, unknown> }> = {
        health: () => ({ query: '{ health { status } }' }),
        predictNextStep: (n) => ({ query: 'query($e: [LiveEventInput!]) { predictNextStep(events: $e) { likeliest probabilities { action probability } explanation { feature effect } } }', variables: { e: visit(n) } }),
        purchasePropensity: (n) => ({ query: 'query($u: ID!, $at: DateTime) { purchasePropensity(userId: $u, asOf: $at) { propensity explanation { feature effect } } }', variables: { u: userIds[n % userIds.length], at: to.toISOString() } }),
        sessionPurchasePropensity: (n) => ({ query: 'query($e: [LiveEventInput!], $u: ID) { sessionPurchasePropensity(events: $e, userId: $u) { propensity } }', variables: { e: visit(n), u: userIds[n % userIds.length] } }),
      };
      const send = async (body: { query: string; variables?: Record<string, unknown> }) => {
        const response = await fetch(app.server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
        const json = (await response.json()) as { errors?: unknown };
        if (json.errors) throw new Error(JSON.stringify(json.errors));
      };
      const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
      for (const [name, make] of Object.entries(queries)) {
        for (let n = 0; n < 20; n++) await send(make(n)); // warm-up: model load, JIT
        const latencies: number[] = [];
        let next = 0;
        const started = process.hrtime.bigint();
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            for (let n = next++; n < requests; n = next++) {
              const t0 = performance.now();
              await send(make(n));
              latencies.push(performance.now() - t0);
            }
          }),
        );
        const seconds = elapsedSeconds(started);
        latencies.sort((a, b) => a - b);
        console.log(`${name.padEnd(26)} p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms, ${rate(requests, seconds)}`);
      }
    } finally {
      await app.stop();
    }
  } finally {
    await db.drop();
  }
}
