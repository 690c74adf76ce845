import 'reflect-metadata';

/** `npm run bench <name>`: each benchmark prints its own figures and a ratio against a peer measured in the same run. */
const BENCHMARKS: Record<string, () => Promise<{ run(argv: string[]): Promise<void> }>> = {
  ingest: () => import('./ingest.bench'),
  import: () => import('./import.bench'),
  predict: () => import('./predict.bench'),
  train: () => import('./train.bench'),
  'train-defaults': () => import('./train-defaults.bench'),
  serve: () => import('./serve.bench'),
  'recommend-quality': () => import('./recommend-quality.bench'),
  'recommender-recall': () => import('./recommender-recall.bench'),
  anomaly: () => import('./anomaly.bench'),
  funnel: () => import('./funnel.bench'),
  'funnel-controls': () => import('./funnel-controls.bench'),
  'first-use': () => import('./first-use.bench'),
  revocation: () => import('./revocation.bench'),
  'recommendation-ids': () => import('./recommendation-ids.bench'),
  'funnel-concurrency': () => import('./funnel-concurrency.bench'),
  'funnel-live': () => import('./funnel-live.bench'),
  'body-stall': () => import('./body-stall.bench'),
  'ingest-rules': () => import('./ingest-rules.bench'),
  'training-input': () => import('./training-input.bench'),
  'analytics-scale': () => import('./analytics-scale.bench'),
  retention: () => import('./retention.bench'),
  'training-readers': () => import('./training-readers.bench'),
  // Quality reports: what a model or detector achieves on a generated shop or a real sample, not how fast.
  'anomaly-detection': () => import('./reports/anomaly-detection'),
  'exclusion-effect': () => import('./reports/exclusion-effect'),
  'als-grid': () => import('./reports/als-grid'),
  'prediction-quality': () => import('./reports/prediction-quality'),
  'served-quality': () => import('./reports/served-quality'),
  'reengagement-quality': () => import('./reports/reengagement-quality'),
  'session-quality': () => import('./reports/session-quality'),
  'shop-realism': () => import('./reports/shop-realism'),
  'funnel-drivers': () => import('./reports/funnel-drivers'),
  'dp-error': () => import('./reports/dp-error'),
};

async function main(): Promise<void> {
  const [name, ...rest] = process.argv.slice(2);
  const bench = name ? BENCHMARKS[name] : undefined;
  if (!bench) {
    console.error(`Usage: npm run bench <${Object.keys(BENCHMARKS).join('|')}> [options]`);
    process.exitCode = 1;
    return;
  }
  await (await bench()).run(rest);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
