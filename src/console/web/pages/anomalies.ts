import { gql } from '../api.js';
import type { Page } from '../main.js';
import { busy, chartBox, COLOURS, dayInput, el, errorBox, field, number, section, table } from '../ui.js';

interface Finding {
  text: string;
}

interface RiskRow {
  userId: string;
  score: number;
  worstDay: string | null;
  flagged: boolean;
  findings: Finding[];
  label: { label: string } | null;
}

const LABELS = ['BOT', 'FRAUD', 'GENUINE'];
const DAY_MS = 86_400_000;

/** Anomalies: flagged users with scores and findings in words, one user's risk by day, label buttons (admin). */
export const anomaliesPage: Page = {
  path: 'anomalies',
  title: 'Anomalies',
  roles: ['ANALYST', 'ADMIN'],
  render(container, viewer) {
    const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
    const from = el('input', { type: 'date', name: 'anomalyFrom', value: dayInput(new Date(today - 13 * DAY_MS)) });
    const to = el('input', { type: 'date', name: 'anomalyTo', value: dayInput(new Date(today + DAY_MS)) });
    const show = el('button', { type: 'button' }, 'Show');
    const list = el('div', { 'data-testid': 'anomalies' });
    const detail = el('div', { 'data-testid': 'user-risk' });
    const errors = errorBox();
    const canLabel = viewer.role === 'ADMIN';

    const labelButtons = (userId: string) =>
      el('span', {}, ...LABELS.map((label) => el('button', { type: 'button', 'data-label': label, 'data-user': userId, onclick: () => void busy(null, errors, async () => { await gql('mutation ConsoleLabelUser($input: LabelUserInput!) { labelUser(input: $input) { label } }', { input: { userId, label } }); await load(); }) }, label)));

    async function load(): Promise<void> {
      const data = await gql<{ anomalies: { totalCount: number; minScore: number; edges: { node: RiskRow }[] } }>(
        'query ConsoleAnomalies($from: DateTime!, $to: DateTime!) { anomalies(from: $from, to: $to, first: 50) { totalCount minScore edges { node { userId score worstDay flagged findings { text } label { label } } } } }',
        { from: new Date(`${from.value}T00:00:00Z`).toISOString(), to: new Date(`${to.value}T00:00:00Z`).toISOString() },
      );
      const rows = data.anomalies.edges.map((edge) => edge.node);
      list.replaceChildren(
        el('p', { class: 'muted' }, `${number(data.anomalies.totalCount)} users scored at least ${number(data.anomalies.minScore, 2)}${data.anomalies.totalCount > rows.length ? `; the ${rows.length} highest shown` : ''}.`),
        rows.length
          ? table(
              [
                { title: 'User', value: (row: RiskRow) => el('a', { href: '#/anomalies', onclick: (event: Event) => { event.preventDefault(); void busy(null, errors, () => showUser(row.userId)); } }, row.userId) },
                { title: 'Score', value: (row) => number(row.score, 3), numeric: true },
                { title: 'Worst day', value: (row) => row.worstDay ?? '–' },
                { title: 'Why', value: (row) => row.findings.slice(0, 2).map((finding) => finding.text).join('; ') },
                { title: 'Label', value: (row) => row.label?.label ?? '–' },
                ...(canLabel ? [{ title: '', value: (row: RiskRow) => labelButtons(row.userId) }] : []),
              ],
              rows,
              'anomalies-table',
            )
          : el('p', { class: 'muted' }, 'No flagged users in this range (or no detector trained yet).'),
      );
    }

    async function showUser(userId: string): Promise<void> {
      const data = await gql<{ userRisk: RiskRow & { contributions: { detector: string; score: number; weight: number; contribution: number }[]; scoredDays: { day: string; score: number }[] } }>(
        'query ConsoleUserRisk($userId: String!) { userRisk(userId: $userId) { userId score worstDay flagged findings { text } label { label } contributions { detector score weight contribution } scoredDays { day score } } }',
        { userId },
      );
      const risk = data.userRisk;
      const chart = chartBox('risk-chart');
      detail.replaceChildren(
        section(
          `User ${risk.userId}: score ${number(risk.score, 3)}${risk.flagged ? ' (flagged)' : ''}${risk.label ? `, labelled ${risk.label.label}` : ''}`,
          el('ul', {}, ...risk.findings.map((finding) => el('li', {}, finding.text))),
          table(
            [
              { title: 'Detector', value: (row: (typeof risk.contributions)[number]) => row.detector },
              { title: 'Score', value: (row) => number(row.score, 3), numeric: true },
              { title: 'Weight', value: (row) => number(row.weight, 2), numeric: true },
              { title: 'Contribution', value: (row) => number(row.contribution, 3), numeric: true },
            ],
            risk.contributions,
          ),
          el('h3', {}, 'Risk by day (days with events)'),
          chart,
          canLabel ? el('p', {}, 'Label: ', labelButtons(risk.userId)) : null,
        ),
      );
      chart.draw({
        type: 'bar',
        data: { labels: risk.scoredDays.map((day) => day.day), datasets: [{ label: 'Ensemble score', data: risk.scoredDays.map((day) => day.score), backgroundColor: COLOURS[4] }] },
        options: { scales: { y: { beginAtZero: true, max: 1 } } },
      });
    }

    show.addEventListener('click', () => void busy(show, errors, load));
    container.append(section('Flagged users', field('From', from), field('To (exclusive)', to), show, errors, list), detail);
    void busy(null, errors, load);
  },
};
