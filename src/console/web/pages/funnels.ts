import { gql } from '../api.js';
import type { Page } from '../main.js';
import { csvLine } from '../csv.js';
import { busy, chartBox, COLOURS, dateTime, dayInput, download, duration, el, errorBox, field, number, percent, section, select, table } from '../ui.js';

interface StepFilter {
  property: string;
  op: string;
  value: unknown;
}

interface Step {
  type: string;
  filters?: StepFilter[];
}

/** The FunnelInput the page builds (the same shape saveFunnel stores). */
interface FunnelDefinition {
  steps: Step[];
  conversionWindowSeconds: number;
  modes: string[];
  countBy: 'USER' | 'SESSION';
  from: string;
  to: string;
  breakdown?: { property: string; limit?: number };
  excludeAnomalous?: boolean;
}

interface StepResult {
  index: number;
  label: string;
  type: string;
  count: number;
  dropOff: number;
  conversionFromFirst: number;
  conversionFromPrevious: number;
  timeFromPrevious: { median: number; p90: number } | null;
}

const STEP_FIELDS = 'index label type count dropOff conversionFromFirst conversionFromPrevious timeFromPrevious { median p90 }';
const MODES = ['STRICT_ORDER', 'STRICT_DEDUPLICATION', 'STRICT_INCREASE', 'STRICT_ONCE', 'ALLOW_REENTRY'];
const WINDOWS: [string, number][] = [['1 hour', 3600], ['1 day', 86400], ['3 days', 3 * 86400], ['7 days', 7 * 86400], ['30 days', 30 * 86400]];
const DAY_MS = 86_400_000;

/** Funnels: build one by clicking event types, run it, and read it five ways; save and reload definitions. */
export const funnelsPage: Page = {
  path: 'funnels',
  title: 'Funnels',
  roles: ['ANALYST', 'ADMIN'],
  render(container) {
    const today = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS);
    const steps: Step[] = [];
    const stepList = el('ol', { class: 'steps', 'data-testid': 'funnel-steps' });
    const palette = el('div', { class: 'palette', 'data-testid': 'event-palette' }, el('span', { class: 'muted' }, 'Loading event types…'));
    const fromInput = el('input', { type: 'date', name: 'from', value: dayInput(new Date(today.getTime() - 14 * DAY_MS)) });
    const toInput = el('input', { type: 'date', name: 'to', value: dayInput(new Date(today.getTime() + DAY_MS)) });
    const windowSelect = select('window', WINDOWS.map(([label]) => label), '1 day');
    const countBy = select('countBy', ['USER', 'SESSION'], 'USER');
    const breakdownInput = el('input', { name: 'breakdown', placeholder: 'e.g. device, channel, item.category', size: 22 });
    const trendInterval = select('trendInterval', ['DAY', 'WEEK'], 'DAY');
    const excludeAnomalous = el('input', { type: 'checkbox', name: 'excludeAnomalous' });
    const modeBoxes = MODES.map((mode) => el('input', { type: 'checkbox', name: 'mode', value: mode }));
    const filterProperty = el('input', { name: 'filterProperty', placeholder: 'property (optional)', size: 14 });
    const filterValue = el('input', { name: 'filterValue', placeholder: 'equals', size: 10 });
    const errors = errorBox();
    const runButton = el('button', { type: 'button', class: 'primary', 'data-testid': 'run-funnel' }, 'Run funnel');
    const results = el('div', { 'data-testid': 'funnel-results' });
    const savedArea = el('div', { 'data-testid': 'saved-funnels' });
    const saveName = el('input', { name: 'saveName', placeholder: 'name', size: 18 });
    const saveButton = el('button', { type: 'button' }, 'Save funnel');

    function drawSteps(): void {
      stepList.replaceChildren(
        ...steps.map((step, index) =>
          el(
            'li',
            {},
            step.type,
            step.filters?.length ? el('span', { class: 'muted' }, ` where ${step.filters.map((filter) => `${filter.property} = ${JSON.stringify(filter.value)}`).join(' and ')}`) : null,
            el('button', { type: 'button', title: 'Remove this step', onclick: () => { steps.splice(index, 1); drawSteps(); } }, '✕'),
          ),
        ),
      );
      if (!steps.length) stepList.append(el('li', { class: 'muted' }, 'Click event types above to add steps (at least two).'));
      runButton.disabled = steps.length < 2;
    }

    function addStep(type: string): void {
      const filter = filterProperty.value.trim() ? [{ property: filterProperty.value.trim(), op: 'EQ', value: filterValue.value }] : undefined;
      steps.push(filter ? { type, filters: filter } : { type });
      filterProperty.value = '';
      filterValue.value = '';
      drawSteps();
    }

    function definition(): FunnelDefinition {
      const input: FunnelDefinition = {
        steps: steps.map((step) => ({ ...step })),
        conversionWindowSeconds: WINDOWS.find(([label]) => label === windowSelect.value)![1],
        modes: modeBoxes.filter((box) => box.checked).map((box) => box.value),
        countBy: countBy.value as 'USER' | 'SESSION',
        from: new Date(`${fromInput.value}T00:00:00Z`).toISOString(),
        to: new Date(`${toInput.value}T00:00:00Z`).toISOString(),
      };
      if (excludeAnomalous.checked) input.excludeAnomalous = true;
      return input;
    }

    function load(saved: FunnelDefinition): void {
      steps.splice(0, steps.length, ...saved.steps.map((step) => ({ type: step.type, ...(step.filters?.length ? { filters: step.filters } : {}) })));
      const window = WINDOWS.find(([, seconds]) => seconds === saved.conversionWindowSeconds);
      if (window) windowSelect.value = window[0];
      for (const box of modeBoxes) box.checked = (saved.modes ?? []).includes(box.value);
      countBy.value = saved.countBy ?? 'USER';
      fromInput.value = saved.from.slice(0, 10);
      toInput.value = saved.to.slice(0, 10);
      breakdownInput.value = saved.breakdown?.property ?? '';
      excludeAnomalous.checked = saved.excludeAnomalous === true;
      drawSteps();
    }

    async function loadPalette(): Promise<void> {
      const from = new Date(`${fromInput.value}T00:00:00Z`).toISOString();
      const to = new Date(`${toInput.value}T00:00:00Z`).toISOString();
      const data = await gql<{ eventStats: { total: number; byType: { type: string; count: number }[] } }>(
        'query ConsoleEventStats($from: DateTime!, $to: DateTime!) { eventStats(from: $from, to: $to) { total byType { type count } } }',
        { from, to },
      );
      const types = data.eventStats.byType;
      palette.replaceChildren(
        ...(types.length
          ? types.map((row) => el('button', { type: 'button', 'data-event-type': row.type, onclick: () => addStep(row.type) }, `+ ${row.type} `, el('span', { class: 'muted' }, number(row.count))))
          : [el('span', { class: 'muted' }, 'No events in this range; widen it.')]),
      );
    }

    async function run(): Promise<void> {
      const input = definition();
      const breakdown = breakdownInput.value.trim();
      const withBreakdown = breakdown ? { ...input, breakdown: { property: breakdown } } : input;
      const last = input.steps.length;
      const [funnel, trend, timing] = await Promise.all([
        gql<{ funnel: { totalUnits: number; steps: StepResult[]; breakdown: { group: string; key: string; totalUnits: number; steps: StepResult[] }[] | null } }>(
          `query ConsoleFunnel($input: FunnelInput!) { funnel(input: $input) { totalUnits steps { ${STEP_FIELDS} } breakdown { group key totalUnits steps { count conversionFromFirst } } } }`,
          { input: withBreakdown },
        ),
        gql<{ funnelTrend: { periodStart: string; entered: number; converted: number; conversionRate: number }[] }>(
          'query ConsoleFunnelTrend($input: FunnelInput!, $interval: TrendInterval!) { funnelTrend(input: $input, interval: $interval) { periodStart entered converted conversionRate } }',
          { input, interval: trendInterval.value },
        ),
        gql<{ timeToConvert: { units: number; buckets: { start: number; end: number; count: number }[]; summary: { median: number; p90: number } | null } }>(
          'query ConsoleTimeToConvert($input: FunnelInput!, $to: Int!) { timeToConvert(input: $input, fromStep: 1, toStep: $to, buckets: 12) { units buckets { start end count } summary { median p90 } } }',
          { input, to: last },
        ),
      ]);
      drawResults(input, funnel.funnel, trend.funnelTrend, timing.timeToConvert);
    }

    function drawResults(
      input: FunnelDefinition,
      funnel: { totalUnits: number; steps: StepResult[]; breakdown: { group: string; key: string; totalUnits: number; steps: { count: number; conversionFromFirst: number }[] }[] | null },
      trend: { periodStart: string; entered: number; converted: number; conversionRate: number }[],
      timing: { units: number; buckets: { start: number; end: number; count: number }[]; summary: { median: number; p90: number } | null },
    ): void {
      const stepsChart = chartBox('funnel-chart');
      const trendChart = chartBox('trend-chart');
      const timeChart = chartBox('time-chart');
      const dropped = droppedOffPanel(input, funnel.steps);
      const why = el('div', { 'data-testid': 'why-area' });
      const whyButton = (step: StepResult) =>
        step.index < funnel.steps.length
          ? el('button', { type: 'button', 'data-testid': `why-step-${step.index}`, title: 'Conversion drivers from this step to the next', onclick: (event: Event) => void busy(event.currentTarget as HTMLButtonElement, errors, () => whyPanel(input, step, why, dropped.open)) }, 'Why?')
          : '';
      results.replaceChildren(
        section(
          `Steps (${number(funnel.totalUnits)} ${input.countBy === 'USER' ? 'users' : 'sessions'} active in the range)`,
          el('div', { class: 'row' }, stepsChart, table(
            [
              { title: '#', value: (step: StepResult) => step.index },
              { title: 'Step', value: (step) => step.label },
              { title: 'Count', value: (step) => number(step.count), numeric: true },
              { title: 'From first', value: (step) => percent(step.conversionFromFirst), numeric: true },
              { title: 'From previous', value: (step) => percent(step.conversionFromPrevious), numeric: true },
              { title: 'Dropped off', value: (step) => number(step.dropOff), numeric: true },
              { title: 'Median time', value: (step) => duration(step.timeFromPrevious?.median), numeric: true },
              { title: '', value: whyButton },
            ],
            funnel.steps,
            'funnel-table',
          )),
        ),
        why,
        ...(funnel.breakdown
          ? [section(
              `Breakdown by ${breakdownInput.value.trim()}`,
              table(
                [
                  { title: 'Group', value: (group: NonNullable<typeof funnel.breakdown>[number]) => group.group },
                  { title: 'Entered', value: (group) => number(group.totalUnits), numeric: true },
                  ...funnel.steps.map((step, index) => ({ title: step.label, value: (group: NonNullable<typeof funnel.breakdown>[number]) => number(group.steps[index]?.count), numeric: true })),
                  { title: 'Conversion', value: (group) => percent(group.steps[group.steps.length - 1]?.conversionFromFirst), numeric: true },
                ],
                funnel.breakdown,
                'breakdown-table',
              ),
            )]
          : []),
        el(
          'div',
          { class: 'row' },
          section(`Conversion by ${trendInterval.value === 'DAY' ? 'day' : 'week'}`, trendChart),
          section(`Time from step 1 to step ${funnel.steps.length} (${number(timing.units)} converted, median ${duration(timing.summary?.median)}, p90 ${duration(timing.summary?.p90)})`, timeChart),
        ),
        dropped.panel,
      );
      stepsChart.draw({
        type: 'bar',
        data: {
          labels: funnel.steps.map((step) => `${step.index}. ${step.label} (${percent(step.conversionFromFirst)})`),
          datasets: [
            { label: 'Reached', data: funnel.steps.map((step) => step.count), backgroundColor: COLOURS[0], stack: 'units' },
            { label: 'Dropped off before', data: funnel.steps.map((step) => step.dropOff), backgroundColor: '#f1b89d', stack: 'units' },
          ],
        },
        options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
      });
      trendChart.draw({
        type: 'line',
        data: {
          labels: trend.map((point) => point.periodStart.slice(0, 10)),
          datasets: [{ label: 'Conversion rate', data: trend.map((point) => point.conversionRate * 100), borderColor: COLOURS[2], backgroundColor: COLOURS[2] }],
        },
        options: { scales: { y: { beginAtZero: true, title: { display: true, text: '%' } } } },
      });
      timeChart.draw({
        type: 'bar',
        data: {
          labels: timing.buckets.map((bucket) => `${duration(bucket.start)}–${duration(bucket.end)}`),
          datasets: [{ label: 'Units', data: timing.buckets.map((bucket) => bucket.count), backgroundColor: COLOURS[3] }],
        },
      });
    }

    async function loadSaved(): Promise<void> {
      const data = await gql<{ funnels: { id: string; name: string; createdAt: string; definition: FunnelDefinition }[] }>('query ConsoleFunnels { funnels { id name createdAt definition } }');
      savedArea.replaceChildren(
        data.funnels.length
          ? table(
              [
                { title: 'Name', value: (saved: (typeof data.funnels)[number]) => saved.name },
                { title: 'Steps', value: (saved) => saved.definition.steps.map((step) => step.type).join(' → ') },
                { title: 'Saved', value: (saved) => dateTime(saved.createdAt) },
                {
                  title: '',
                  value: (saved) =>
                    el(
                      'span',
                      {},
                      el('button', { type: 'button', onclick: () => { load(saved.definition); void busy(runButton, errors, run); } }, 'Open'),
                      ' ',
                      el('button', { type: 'button', onclick: () => void busy(null, errors, async () => { await gql('mutation ConsoleDeleteFunnel($id: ID!) { deleteFunnel(id: $id) }', { id: saved.id }); await loadSaved(); }) }, 'Delete'),
                    ),
                },
              ],
              data.funnels,
              'saved-funnels-table',
            )
          : el('p', { class: 'muted' }, 'No saved funnels yet.'),
      );
    }

    runButton.addEventListener('click', () => void busy(runButton, errors, run));
    saveButton.addEventListener('click', () =>
      void busy(saveButton, errors, async () => {
        if (!saveName.value.trim()) throw new Error('Give the funnel a name to save it.');
        const breakdown = breakdownInput.value.trim();
        await gql('mutation ConsoleSaveFunnel($input: FunnelInput!, $name: String!) { saveFunnel(input: $input, name: $name) { id } }', {
          input: breakdown ? { ...definition(), breakdown: { property: breakdown } } : definition(),
          name: saveName.value.trim(),
        });
        saveName.value = '';
        await loadSaved();
      }),
    );
    fromInput.addEventListener('change', () => void busy(null, errors, loadPalette));
    toInput.addEventListener('change', () => void busy(null, errors, loadPalette));

    container.append(
      section(
        'Build a funnel',
        el('div', {}, field('Step filter property', filterProperty), field('= value', filterValue)),
        palette,
        stepList,
        el(
          'div',
          {},
          field('From (UTC day)', fromInput),
          field('To (exclusive)', toInput),
          field('Conversion window', windowSelect),
          field('Count', countBy),
          field('Breakdown by', breakdownInput),
          field('Trend', trendInterval),
          field('Leave out flagged users', excludeAnomalous),
        ),
        el('div', {}, el('span', { class: 'muted' }, 'Modes: '), ...modeBoxes.map((box) => el('label', { class: 'inline' }, box, box.value.toLowerCase()))),
        el('p', {}, runButton, ' ', saveName, ' ', saveButton),
        errors,
      ),
      results,
      section('Saved funnels', savedArea),
    );
    drawSteps();
    void busy(null, errors, async () => {
      await Promise.all([loadPalette(), loadSaved()]);
    });
  },
};

/**
 * Units that reached a step and went no further, a page at a time, with a CSV export of every page;
 * `open` shows those of one conversion driver (droppedOff's factor), until the filter is cleared.
 */
function droppedOffPanel(input: FunnelDefinition, steps: StepResult[]): { panel: HTMLElement; open(afterStep: number, factor: string, label: string): void } {
  const afterStep = select('afterStep', steps.slice(0, -1).map((step) => String(step.index)), '1');
  const list = el('div', { 'data-testid': 'dropped-off' });
  let factor: { code: string; label: string } | null = null;
  const factorNote = el('span', { 'data-testid': 'dropped-factor' });
  const errors = errorBox();
  const pageSize = 20;
  let cursors: (string | null)[] = [null];
  let page = 0;
  type Unit = { userId: string; sessionId: string | null; reachedAt: string };
  type Connection = { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: Unit }[] };
  const QUERY = 'query ConsoleDroppedOff($input: FunnelInput!, $afterStep: Int!, $first: Int!, $after: String, $factor: String) { droppedOff(input: $input, afterStep: $afterStep, first: $first, after: $after, factor: $factor) { totalCount pageInfo { hasNextPage endCursor } edges { node { userId sessionId reachedAt } } } }';

  async function read(first: number, after: string | null): Promise<Connection> {
    const data = await gql<{ droppedOff: Connection }>(QUERY, { input, afterStep: Number(afterStep.value), first, after, factor: factor?.code ?? null });
    return data.droppedOff;
  }

  function showFactor(): void {
    factorNote.replaceChildren(
      ...(factor
        ? [` with ${factor.label} `, el('button', { type: 'button', onclick: () => { factor = null; restart(); } }, 'Show all')]
        : []),
    );
  }

  function restart(): void {
    cursors = [null];
    page = 0;
    showFactor();
    void busy(null, errors, show);
  }

  async function show(): Promise<void> {
    const connection = await read(pageSize, cursors[page]);
    cursors[page + 1] = connection.pageInfo.endCursor;
    const previous = el('button', { type: 'button', disabled: page === 0, onclick: () => { page--; void busy(null, errors, show); } }, '‹ Previous');
    const next = el('button', { type: 'button', disabled: !connection.pageInfo.hasNextPage, 'data-testid': 'dropped-next', onclick: () => { page++; void busy(null, errors, show); } }, 'Next ›');
    list.replaceChildren(
      el('p', {}, `${number(connection.totalCount)} units${factor ? ` with ${factor.label}` : ''} stopped after step ${afterStep.value}; page ${page + 1} of ${Math.max(1, Math.ceil(connection.totalCount / pageSize))} `, previous, ' ', next),
      table(
        [
          { title: 'User', value: (unit: Unit) => unit.userId },
          { title: 'Session', value: (unit) => unit.sessionId ?? '–' },
          { title: 'Reached the step at', value: (unit) => dateTime(unit.reachedAt) },
        ],
        connection.edges.map((edge) => edge.node),
        'dropped-off-table',
      ),
    );
  }

  async function exportCsv(): Promise<void> {
    const lines = ['userId,sessionId,reachedAt'];
    let after: string | null = null;
    for (;;) {
      const connection = await read(1000, after);
      for (const { node } of connection.edges) lines.push(csvLine([node.userId, node.sessionId, node.reachedAt]));
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    download(`dropped-off-after-step-${afterStep.value}.csv`, `${lines.join('\n')}\n`);
  }

  afterStep.addEventListener('change', () => {
    factor = null;
    restart();
  });
  const exportButton = el('button', { type: 'button', 'data-testid': 'export-csv' }, 'Export CSV');
  exportButton.addEventListener('click', () => void busy(exportButton, errors, exportCsv));
  void busy(null, errors, show);
  const panel = section('Dropped off', el('div', {}, field('After step', afterStep), exportButton, factorNote), list, errors);
  return {
    panel,
    open(step, code, label) {
      afterStep.value = String(step);
      factor = { code, label };
      restart();
      panel.scrollIntoView();
    },
  };
}

interface Driver {
  factor: string;
  label: string;
  oddsRatio: number;
  oddsRatioLow: number;
  oddsRatioHigh: number;
  qValue: number;
  conversionWith: number;
  droppedOff: { afterStep: number; factor: string; count: number };
}

interface ModelDriverRow {
  feature: string;
  meanDroppedOff: number;
  meanConverted: number;
  difference: number;
  differenceLow: number;
  differenceHigh: number;
}

interface DriversAnswer {
  reached: number;
  converted: number;
  tested: number;
  positive: Driver[];
  negative: Driver[];
  modelDrivers: {
    modelVersionId: string | null;
    reason: string | null;
    droppedOffExplained: number;
    convertedExplained: number;
    features: ModelDriverRow[];
  };
}

const DRIVER_FIELDS = 'factor label oddsRatio oddsRatioLow oddsRatioHigh qValue conversionWith droppedOff { afterStep factor count }';
/** Drivers shown on each side, and model feature groups shown. */
const WHY_TOP = 5;
const WHY_MODEL_ROWS = 8;

/**
 * "Why?" for one step: funnelDrivers from it to the next, the top positive and negative drivers with
 * their odds ratios and 95 % intervals (a chart on a log scale and a table), and the model drivers;
 * each statistical driver's "Dropped off" button opens its units in the dropped-off list.
 */
async function whyPanel(input: FunnelDefinition, step: StepResult, area: HTMLElement, openDropped: (afterStep: number, factor: string, label: string) => void): Promise<void> {
  const data = await gql<{ funnelDrivers: DriversAnswer }>(
    `query ConsoleFunnelDrivers($input: FunnelInput!, $step: Int!, $top: Int!) { funnelDrivers(input: $input, step: $step, options: { top: $top }) {
      reached converted tested positive { ${DRIVER_FIELDS} } negative { ${DRIVER_FIELDS} }
      modelDrivers { modelVersionId reason droppedOffExplained convertedExplained features { feature meanDroppedOff meanConverted difference differenceLow differenceHigh } } } }`,
    { input, step: step.index, top: WHY_TOP },
  );
  const answer = data.funnelDrivers;
  const drivers = [...answer.positive, ...answer.negative];
  const chart = chartBox('why-chart');
  const model = answer.modelDrivers;
  const ratio = (value: number) => number(value, 2);
  area.replaceChildren(
    el(
      'section',
      { 'data-testid': 'why-panel' },
      el('h2', {}, `Why units go on from step ${step.index} (${step.label}), or stop`),
      el('p', { class: 'muted' }, `${number(answer.reached)} reached it, ${number(answer.converted)} went on; ${number(answer.tested)} factors tested, significant at q ≤ 0.05 below.`),
      drivers.length
        ? el(
            'div',
            { class: 'row' },
            chart,
            table(
              [
                { title: 'Driver', value: (driver: Driver) => driver.label },
                { title: 'Odds ratio', value: (driver) => ratio(driver.oddsRatio), numeric: true },
                { title: '95 % CI', value: (driver) => `${ratio(driver.oddsRatioLow)}–${ratio(driver.oddsRatioHigh)}`, numeric: true },
                { title: 'q', value: (driver) => driver.qValue.toPrecision(2), numeric: true },
                {
                  title: 'Dropped off',
                  value: (driver) =>
                    el('button', { type: 'button', 'data-factor': driver.factor, onclick: () => openDropped(driver.droppedOff.afterStep, driver.droppedOff.factor, driver.label) }, number(driver.droppedOff.count)),
                  numeric: true,
                },
              ],
              drivers,
              'why-drivers',
            ),
          )
        : el('p', { class: 'muted' }, 'No factor is significantly associated with going on or stopping here.'),
      el('h3', {}, 'What the purchase-propensity model says'),
      model.features.length
        ? el(
            'div',
            {},
            el('p', { class: 'muted' }, `Model version ${model.modelVersionId}, ${number(model.droppedOffExplained)} dropped-off and ${number(model.convertedExplained)} converted units explained; contributions in probability points, the most holding-back first.`),
            table(
              [
                { title: 'Feature group', value: (row: ModelDriverRow) => row.feature },
                { title: 'Dropped off', value: (row) => number(row.meanDroppedOff, 4), numeric: true },
                { title: 'Went on', value: (row) => number(row.meanConverted, 4), numeric: true },
                { title: 'Difference', value: (row) => number(row.difference, 4), numeric: true },
                { title: '95 % CI', value: (row) => `${number(row.differenceLow, 4)} to ${number(row.differenceHigh, 4)}`, numeric: true },
              ],
              model.features.slice(0, WHY_MODEL_ROWS),
              'why-model',
            ),
          )
        : el('p', { class: 'muted', 'data-testid': 'why-model-reason' }, model.reason ?? ''),
    ),
  );
  if (drivers.length) {
    chart.draw({
      type: 'bar',
      data: {
        labels: drivers.map((driver) => driver.label),
        datasets: [
          {
            label: 'Odds ratio, 95 % CI',
            data: drivers.map((driver) => [driver.oddsRatioLow, driver.oddsRatioHigh]),
            backgroundColor: drivers.map((driver) => (driver.oddsRatio > 1 ? COLOURS[2] : COLOURS[4])),
          },
        ],
      },
      options: { indexAxis: 'y', scales: { x: { type: 'logarithmic', title: { display: true, text: 'odds ratio (1 = no effect)' } } } },
    });
  }
}
