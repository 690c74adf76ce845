import { gql } from '../api.js';
import type { Page } from '../main.js';
import { busy, chartBox, COLOURS, dayInput, el, errorBox, field, number, percent, section, select, table } from '../ui.js';

interface ServedItem {
  itemId: string;
  score: number;
  source: string;
  modelVersion: number | null;
  item: { title: string | null; category: string | null; brand: string | null; price: number | null; available: boolean } | null;
}

interface Performance {
  source: string;
  modelVersion: number | null;
  impressions: number;
  clicks: number;
  clickThroughRate: number | null;
  conversions: number;
  conversionRate: number | null;
  revenue: number;
}

const ITEM_FIELDS = 'listId modelVersionId items { itemId score source modelVersion item { title category brand price available } }';
const PERFORMANCE_FIELDS = 'source modelVersion impressions clicks clickThroughRate conversions conversionRate revenue';
const DAY_MS = 86_400_000;

/** What the daily chart can show, one line per recommender and version: a figure of `Performance` per day. */
const DAILY_SERIES: Record<string, (row: Performance) => number | null> = {
  'Click-through %': (row) => (row.clickThroughRate === null ? null : row.clickThroughRate * 100),
  Impressions: (row) => row.impressions,
  Clicks: (row) => row.clicks,
  'Conversion %': (row) => (row.conversionRate === null ? null : row.conversionRate * 100),
  Conversions: (row) => row.conversions,
  Revenue: (row) => row.revenue,
};

function servedTable(items: ServedItem[]): HTMLElement {
  return table(
    [
      { title: '#', value: (_row: ServedItem) => items.indexOf(_row) + 1 },
      { title: 'Item', value: (row) => row.itemId },
      { title: 'Title', value: (row) => row.item?.title ?? '–' },
      { title: 'Category', value: (row) => row.item?.category ?? '–' },
      { title: 'Price', value: (row) => number(row.item?.price, 2), numeric: true },
      { title: 'Score', value: (row) => number(row.score, 4), numeric: true },
      { title: 'From', value: (row) => `${row.source}${row.modelVersion ? ` v${row.modelVersion}` : ''}` },
    ],
    items,
    'served-list',
  );
}

/** Recommendations: a user's or a session's served list with the model behind each item; performance per recommender and version. */
export const recommendationsPage: Page = {
  path: 'recommendations',
  title: 'Recommendations',
  roles: ['CLIENT', 'SERVER', 'ANALYST', 'ADMIN'],
  render(container, viewer) {
    const userId = el('input', { name: 'userId', placeholder: 'user id', size: 16 });
    const sessionItems = el('input', { name: 'sessionItems', placeholder: 'item ids, oldest first: i1, i7', size: 28 });
    const limit = el('input', { name: 'limit', type: 'number', min: 1, max: 50, value: 10, size: 4 });
    const forUser = el('button', { type: 'button', class: 'primary', 'data-testid': 'recommend-user' }, 'For the user');
    const forSession = el('button', { type: 'button' }, 'For the session');
    const served = el('div', { 'data-testid': 'served' });
    const errors = errorBox();

    forUser.addEventListener('click', () =>
      void busy(forUser, errors, async () => {
        const data = await gql<{ recommendations: { listId: string; items: ServedItem[] } }>(
          `query ConsoleRecommendations($userId: ID!, $limit: Int!) { recommendations(userId: $userId, limit: $limit) { ${ITEM_FIELDS} } }`,
          { userId: userId.value.trim(), limit: Number(limit.value) },
        );
        served.replaceChildren(el('p', { class: 'muted' }, `List ${data.recommendations.listId} for user ${userId.value.trim()}`), servedTable(data.recommendations.items));
      }),
    );
    forSession.addEventListener('click', () =>
      void busy(forSession, errors, async () => {
        const itemIds = sessionItems.value.split(',').map((id) => id.trim()).filter(Boolean);
        const data = await gql<{ sessionRecommendations: { listId: string; items: ServedItem[] } }>(
          `query ConsoleSessionRecommendations($itemIds: [ID!]!, $limit: Int!) { sessionRecommendations(itemIds: $itemIds, limit: $limit) { ${ITEM_FIELDS} } }`,
          { itemIds, limit: Number(limit.value) },
        );
        served.replaceChildren(el('p', { class: 'muted' }, `Session list ${data.sessionRecommendations.listId}`), servedTable(data.sessionRecommendations.items));
      }),
    );

    container.append(section('Served list', field('User', userId), forUser, ' ', field('Session items', sessionItems), forSession, ' ', field('Items', limit), errors, served));
    if (viewer.role === 'ANALYST' || viewer.role === 'ADMIN') container.append(performanceSection());
  },
};

/** Totals per recommender and version for a range, and one of their figures per day (one query per day, at most 31). */
function performanceSection(): HTMLElement {
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const from = el('input', { type: 'date', name: 'perfFrom', value: dayInput(new Date(today - 13 * DAY_MS)) });
  const to = el('input', { type: 'date', name: 'perfTo', value: dayInput(new Date(today + DAY_MS)) });
  const show = el('button', { type: 'button' }, 'Show');
  const totals = el('div', { 'data-testid': 'performance' });
  const chart = chartBox('performance-chart');
  const seriesSelect = select('perfSeries', Object.keys(DAILY_SERIES), 'Click-through %');
  const errors = errorBox();
  /** The last range's answers, per day, so choosing another figure redraws without asking again. */
  let daily: { days: number[]; answers: { recommendationPerformance: { recommenders: Performance[] } }[] } | null = null;
  const label = (row: Performance) => `${row.source}${row.modelVersion ? ` v${row.modelVersion}` : ''}`;

  async function load(): Promise<void> {
    const fromMs = Date.parse(`${from.value}T00:00:00Z`);
    const toMs = Date.parse(`${to.value}T00:00:00Z`);
    if (!(toMs > fromMs)) throw new Error('The range must end after it starts.');
    const query = `query ConsoleRecommendationPerformance($from: DateTime!, $to: DateTime!) { recommendationPerformance(from: $from, to: $to) { recommenders { ${PERFORMANCE_FIELDS} } } }`;
    const whole = await gql<{ recommendationPerformance: { recommenders: Performance[] } }>(query, { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() });
    totals.replaceChildren(
      whole.recommendationPerformance.recommenders.length
        ? table(
            [
              { title: 'Recommender', value: label },
              { title: 'Impressions', value: (row: Performance) => number(row.impressions), numeric: true },
              { title: 'Clicks', value: (row) => number(row.clicks), numeric: true },
              { title: 'Click-through', value: (row) => percent(row.clickThroughRate), numeric: true },
              { title: 'Conversions', value: (row) => number(row.conversions), numeric: true },
              { title: 'Conversion', value: (row) => percent(row.conversionRate), numeric: true },
              { title: 'Revenue', value: (row) => number(row.revenue, 2), numeric: true },
            ],
            whole.recommendationPerformance.recommenders,
            'performance-table',
          )
        : el('p', { class: 'muted' }, 'No feedback in this range yet (impressions and clicks come from recordRecommendationFeedback).'),
    );
    const days: number[] = [];
    for (let day = Math.max(fromMs, toMs - 31 * DAY_MS); day < toMs; day += DAY_MS) days.push(day);
    const answers = await Promise.all(days.map((day) => gql<{ recommendationPerformance: { recommenders: Performance[] } }>(query, { from: new Date(day).toISOString(), to: new Date(day + DAY_MS).toISOString() })));
    daily = { days, answers };
    drawDaily();
  }

  function drawDaily(): void {
    if (!daily) return;
    const { days, answers } = daily;
    const figure = DAILY_SERIES[seriesSelect.value];
    const series = [...new Set(answers.flatMap((answer) => answer.recommendationPerformance.recommenders.map(label)))];
    chart.dataset.series = seriesSelect.value;
    chart.draw({
      type: 'line',
      data: {
        labels: days.map((day) => new Date(day).toISOString().slice(0, 10)),
        datasets: series.map((name, index) => ({
          label: `${name} ${seriesSelect.value}`,
          data: answers.map((answer) => {
            const row = answer.recommendationPerformance.recommenders.find((candidate) => label(candidate) === name);
            return row ? figure(row) : null;
          }),
          borderColor: COLOURS[index % COLOURS.length],
          backgroundColor: COLOURS[index % COLOURS.length],
          spanGaps: true,
        })),
      },
      options: { scales: { y: { beginAtZero: true } } },
    });
  }

  show.addEventListener('click', () => void busy(show, errors, load));
  seriesSelect.addEventListener('change', drawDaily);
  void busy(null, errors, load);
  return section('Performance per recommender and version', field('From', from), field('To (exclusive)', to), show, errors, totals, field('Per day', seriesSelect), chart);
}
