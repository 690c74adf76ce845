import type { RankingMetrics } from '../ml/evaluation';

const round = (value: number) => Math.round(value * 1e5) / 1e5;
function rounded<T extends object>(metrics: T): T {
  return Object.fromEntries(Object.entries(metrics).map(([key, value]) => [key, typeof value === 'number' ? round(value) : value])) as T;
}

/** `metrics.evaluation` in the shape every ranking kind stores (the same as matrix factorisation's). */
export function evaluationSummary(splitAt: Date, k: number, heldOutUsers: number, model: RankingMetrics, baseline: RankingMetrics, extra: Record<string, unknown> = {}) {
  return {
    splitAt: splitAt.toISOString(),
    k,
    heldOutUsers,
    model: rounded(model),
    popularityBaseline: rounded(baseline),
    recallLiftOverBaseline: baseline.recall > 0 ? round(model.recall / baseline.recall) : null,
    ndcgLiftOverBaseline: baseline.ndcg > 0 ? round(model.ndcg / baseline.ndcg) : null,
    ...extra,
  };
}
