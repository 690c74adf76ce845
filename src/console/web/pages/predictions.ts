import { gql } from '../api.js';
import type { Page } from '../main.js';
import { busy, chartBox, COLOURS, dateTime, el, errorBox, field, number, percent, section, table } from '../ui.js';

interface Attribution {
  feature: string;
  effect: number;
}

/** Predictions: a user's purchase propensity with its explanation, the next step of a typed visit, at-risk users. */
export const predictionsPage: Page = {
  path: 'predictions',
  title: 'Predictions',
  // Predictions explain themselves from a user's behaviour: never for the public client key (docs/privacy.md).
  roles: ['SERVER', 'ANALYST', 'ADMIN'],
  render(container, viewer) {
    // purchasePropensity and predictNextStep take a server, analyst or admin key; atRiskUsers an analyst or admin key.
    container.append(propensitySection(), nextStepSection());
    if (viewer.role !== 'SERVER') container.append(atRiskSection());
  },
};

function explanationChart(chart: ReturnType<typeof chartBox>, explanation: Attribution[]): void {
  chart.draw({
    type: 'bar',
    data: {
      labels: explanation.map((row) => row.feature),
      datasets: [{ label: 'Effect on the prediction', data: explanation.map((row) => row.effect), backgroundColor: explanation.map((row) => (row.effect >= 0 ? COLOURS[2] : COLOURS[4])) }],
    },
    options: { indexAxis: 'y' },
  });
}

function propensitySection(): HTMLElement {
  const userId = el('input', { name: 'propensityUser', placeholder: 'user id', size: 16 });
  const go = el('button', { type: 'button', class: 'primary', 'data-testid': 'predict-propensity' }, 'Predict');
  const summary = el('p', { 'data-testid': 'propensity' });
  const chart = chartBox('propensity-chart');
  const errors = errorBox();
  go.addEventListener('click', () =>
    void busy(go, errors, async () => {
      const data = await gql<{ purchasePropensity: { propensity: number; horizonHours: number | null; storedPropensity: number | null; modelVersionId: string; explanation: Attribution[] } }>(
        'query ConsolePurchasePropensity($userId: ID!) { purchasePropensity(userId: $userId) { propensity horizonHours storedPropensity modelVersionId explanation { feature effect } } }',
        { userId: userId.value.trim() },
      );
      const result = data.purchasePropensity;
      summary.textContent = `${percent(result.propensity)} chance of a purchase within ${result.horizonHours ?? '?'} h (model version ${result.modelVersionId}; stored at training: ${percent(result.storedPropensity)}).`;
      explanationChart(chart, result.explanation);
    }),
  );
  return section('Purchase propensity', field('User', userId), go, errors, summary, chart);
}

function nextStepSection(): HTMLElement {
  const visit = el('input', { name: 'visit', value: 'view, view, cart', size: 36 });
  const device = el('input', { name: 'device', value: 'mobile', size: 10 });
  const go = el('button', { type: 'button', class: 'primary', 'data-testid': 'predict-next-step' }, 'Predict the next step');
  const summary = el('p', { 'data-testid': 'next-step' });
  const chart = chartBox('next-step-chart');
  const errors = errorBox();
  go.addEventListener('click', () =>
    void busy(go, errors, async () => {
      const types = visit.value.split(',').map((type) => type.trim()).filter(Boolean);
      if (!types.length) throw new Error('Type the visit as event types, oldest first: view, view, cart.');
      const start = Date.now() - types.length * 60_000;
      // One event a minute, ending now: what a live visit would send.
      const events = types.map((type, index) => ({ type, device: device.value.trim() || undefined, timestamp: new Date(start + index * 60_000).toISOString() }));
      const data = await gql<{ predictNextStep: { likeliest: string; probabilities: { action: string; probability: number }[]; baseline: { action: string; probability: number }[]; explanation: Attribution[] } }>(
        'query ConsolePredictNextStep($events: [LiveEventInput!]) { predictNextStep(events: $events) { likeliest probabilities { action probability } baseline { action probability } explanation { feature effect } } }',
        { events },
      );
      const result = data.predictNextStep;
      summary.textContent = `Likeliest next: ${result.likeliest}.`;
      chart.draw({
        type: 'bar',
        data: {
          labels: result.probabilities.map((row) => row.action),
          datasets: [
            { label: 'Model', data: result.probabilities.map((row) => row.probability * 100), backgroundColor: COLOURS[0] },
            { label: 'Markov baseline', data: result.probabilities.map((row) => (result.baseline.find((base) => base.action === row.action)?.probability ?? 0) * 100), backgroundColor: COLOURS[7] },
          ],
        },
        options: { scales: { y: { beginAtZero: true, title: { display: true, text: '%' } } } },
      });
    }),
  );
  return section('Next step of a visit', field('Events, oldest first', visit), field('Device', device), go, errors, summary, chart);
}

function atRiskSection(): HTMLElement {
  const list = el('div', { 'data-testid': 'at-risk' });
  const errors = errorBox();
  type Row = { userId: string; stage: string; cartValue: number; propensity: number; reachedAt: string };
  void busy(null, errors, async () => {
    const data = await gql<{ atRiskUsers: { edges: { node: Row }[] } }>('query ConsoleAtRiskUsers { atRiskUsers(first: 20) { edges { node { userId stage cartValue propensity reachedAt } } } }');
    const rows = data.atRiskUsers.edges.map((edge) => edge.node);
    list.replaceChildren(
      rows.length
        ? table(
            [
              { title: 'User', value: (row: Row) => row.userId },
              { title: 'Stage', value: (row) => row.stage },
              { title: 'Cart value', value: (row) => number(row.cartValue, 2), numeric: true },
              { title: 'Propensity', value: (row) => percent(row.propensity), numeric: true },
              { title: 'Reached', value: (row) => dateTime(row.reachedAt) },
            ],
            rows,
            'at-risk-table',
          )
        : el('p', { class: 'muted' }, 'No user at risk (or no PURCHASE_PROPENSITY version is active yet).'),
    );
  });
  return section('At-risk users (open cart, low propensity)', errors, list);
}
