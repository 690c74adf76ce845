import { mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createDemoShop, startEndingToday } from '../src/sim';
import { loadDemoShop } from '../src/sim/load';
import { startTestApp, TestApp } from './support/app';
import { sleep, WorkerProcess } from './support/worker';

/** Debian's chromium package (`.ci/run` installs it); browser downloads are not possible here. */
const CHROMIUM = process.env.FUNNELCAST_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots of each page, kept as test artifacts (git-ignored). */
const ARTIFACTS = resolve(__dirname, '../test-artifacts/console');
const PREFIX = `console-e2e-${process.pid}-${Date.now().toString(36)}`;
const DAYS = 14;
// Ends at the last UTC midnight, so the console's default ranges (the last two weeks) find it.
const shop = createDemoShop({ users: 300, days: DAYS, seed: 11, start: startEndingToday(DAYS), clickFarmShare: 0.03 });
const RANGE = { from: new Date(shop.options.startMs).toISOString(), to: new Date(shop.options.endMs).toISOString() };
/** Guards against a hang, not a speed check: every wait is for something to appear on the page. */
const APPEARS = { timeout: 120_000 };
const FINAL = ['COMPLETED', 'FAILED', 'CANCELLED'];

/** The models the other pages read, trained small: the point is real data on each page, not quality. */
const SETUP_TRAINING = [
  { kind: 'ANOMALY_STATISTICAL', params: {} },
  { kind: 'NEXT_STEP', params: { epochs: 2, units: 8, refit: false, seed: 3 } },
  { kind: 'PURCHASE_PROPENSITY', params: { epochs: 2, units: 4, hiddenUnits: 4, refit: false, seed: 3 } },
];

describe('web console in headless Chromium', () => {
  let t: TestApp;
  let worker: WorkerProcess | undefined;
  let browser: Browser;
  let consoleUrl: string;
  const keys: Record<'admin' | 'analyst' | 'server' | 'client', string> = { admin: '', analyst: '', server: '', client: '' };
  const setupJobs: string[] = [];
  // A shopper who bought something: recommendations, propensity and feedback have history to read.
  const buyer = [...shop.shoppers()].find((story) => story.label === 'genuine' && story.events.some((event) => event.type === 'purchase'))!;

  async function signIn(role: keyof typeof keys): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    page.on('pageerror', (error) => {
      throw error;
    });
    await page.goto(consoleUrl);
    await page.fill('[data-testid=api-key]', keys[role]);
    await page.click('form.signin button[type=submit]');
    await page.waitForSelector(`#who[data-role=${role.toUpperCase()}]`, APPEARS);
    return page;
  }

  async function screenshot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: resolve(ARTIFACTS, `${name}.png`), fullPage: true });
  }

  async function navTitles(page: Page): Promise<string[]> {
    return page.locator('#nav a').allTextContents();
  }

  async function waitForJobs(ids: string[]): Promise<void> {
    for (;;) {
      const states = await Promise.all(ids.map(async (id) => (await t.gql<{ trainingJob: { state: string; error: string | null } }>('query($id: ID!) { trainingJob(id: $id) { state error } }', { id })).data!.trainingJob));
      if (states.every((job) => FINAL.includes(job.state))) {
        expect(states).toEqual(ids.map(() => ({ state: 'COMPLETED', error: null })));
        return;
      }
      if (worker && worker.child.exitCode !== null) throw new Error(`the worker ended: ${worker.output}`);
      await sleep(200);
    }
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    t = await startTestApp('console', { FUNNELCAST_QUEUE_PREFIX: PREFIX });
    consoleUrl = t.url.replace(/\/graphql$/, '/console');
    await loadDemoShop(t.app.services.dataSource, shop);
    keys.admin = t.adminKey;
    keys.analyst = await t.createKey('analyst', 'console analyst');
    keys.client = await t.createKey('client', 'console client');
    keys.server = await t.createKey('server', 'console server');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });

  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
    await t?.stop();
  });

  it('serves the console and refuses a wrong key on the sign-in form', async () => {
    const index = await fetch(consoleUrl);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect((await fetch(`${consoleUrl}/vendor/chart.js`)).status).toBe(200);
    expect((await fetch(`${consoleUrl}/../package.json`)).status).toBe(404);
    expect((await fetch(`${consoleUrl}/%2e%2e/package.json`)).status).toBe(404);
    const page = await browser.newPage();
    await page.goto(consoleUrl);
    await page.fill('[data-testid=api-key]', 'not-a-key');
    await page.click('form.signin button[type=submit]');
    await page.waitForSelector('form.signin .error:has-text("not valid")', APPEARS);
    await page.close();
  });

  it('admin: enqueues a training on the Models page and watches its progress move while a worker trains it', async () => {
    const page = await signIn('admin');
    expect(await navTitles(page)).toEqual(['Funnels', 'Recommendations', 'Predictions', 'Anomalies', 'Models']);
    await page.click('[data-testid=nav-models]');
    await page.waitForSelector('[data-testid=model-versions]:has-text("No POPULARITY versions yet")', APPEARS);
    await page.selectOption('select[name=kind]', 'POPULARITY');
    await page.click('[data-testid=enqueue-training]');
    // No worker runs yet: the job waits, at 0 %.
    const row = page.locator('[data-testid=training-jobs-table] tbody tr', { hasText: 'POPULARITY' });
    await row.locator('.badge:text("QUEUED")').waitFor(APPEARS);
    expect(await row.locator('progress').getAttribute('data-progress')).toBe('0');
    await screenshot(page, 'models-queued');

    worker = new WorkerProcess(t.db.url, PREFIX);
    await worker.ready();
    await row.locator('.badge:text("COMPLETED")').waitFor(APPEARS);
    expect(await row.locator('progress').getAttribute('data-progress')).toBe('1');
    // The version list refreshed on its own: v1, active, with its figures beside the baselines.
    const version = page.locator('[data-testid=model-versions-table] > tbody > tr').first();
    await version.locator('.badge:text("ACTIVE")').waitFor(APPEARS);
    expect(await version.locator('td').first().textContent()).toBe('1');
    expect(await version.locator('table th').allTextContents()).toContain('model');
    await screenshot(page, 'models-trained');

    // Train what the other pages read, in the same worker (the page shows those jobs too).
    for (const input of SETUP_TRAINING) {
      const queued = await t.gql<{ trainModel: { id: string } }>('mutation($input: TrainModelInput!) { trainModel(input: $input) { id } }', { input: { ...input, ...RANGE } });
      setupJobs.push(queued.data!.trainModel.id);
    }
    await page.locator('[data-testid=training-jobs-table] tbody tr', { hasText: 'ANOMALY_STATISTICAL' }).waitFor(APPEARS);
    await page.close();
  });

  it('analyst: builds a funnel by clicking and reads it as chart, tables, trend, histogram, dropped-off users and CSV', async () => {
    const page = await signIn('analyst');
    expect(await navTitles(page)).toEqual(['Funnels', 'Recommendations', 'Predictions', 'Anomalies']);
    await page.waitForSelector('[data-testid=event-palette] button[data-event-type=view]', APPEARS);
    for (const type of ['view', 'cart', 'purchase']) await page.click(`[data-testid=event-palette] button[data-event-type=${type}]`);
    expect(await page.locator('[data-testid=funnel-steps] li').allTextContents()).toEqual(['view✕', 'cart✕', 'purchase✕']);
    // The shop's own days (the defaults, the last two weeks, would move if the test ran across midnight).
    await page.fill('input[name=from]', RANGE.from.slice(0, 10));
    await page.fill('input[name=to]', RANGE.to.slice(0, 10));
    await page.fill('input[name=breakdown]', 'device');
    await page.click('[data-testid=run-funnel]');
    await page.waitForSelector('[data-testid=funnel-table] tbody tr:nth-child(3)', APPEARS);

    // The page shows what the API answers for the same funnel (the engine's own tests check the numbers).
    const input = {
      steps: [{ type: 'view' }, { type: 'cart' }, { type: 'purchase' }],
      conversionWindowSeconds: 86_400,
      modes: [],
      countBy: 'USER',
      from: RANGE.from,
      to: RANGE.to,
    };
    const api = await t.gql<{ funnel: { steps: { count: number }[] } }>('query($input: FunnelInput!) { funnel(input: $input) { steps { count } } }', { input }, keys.analyst);
    const counts = api.data!.funnel.steps.map((step) => step.count);
    expect(counts[0]).toBeGreaterThan(100);
    expect(counts[2]).toBeGreaterThan(0);
    const shown = await page.locator('[data-testid=funnel-table] tbody tr td:nth-child(3)').allTextContents();
    expect(shown).toEqual(counts.map((count) => count.toLocaleString('en')));
    expect(await page.getAttribute('[data-testid=funnel-chart]', 'data-drawn')).toBe('1');
    expect(await page.getAttribute('[data-testid=trend-chart]', 'data-drawn')).toBe('1');
    expect(await page.getAttribute('[data-testid=time-chart]', 'data-drawn')).toBe('1');
    const devices = await page.locator('[data-testid=breakdown-table] tbody tr td:first-child').allTextContents();
    expect(devices.length).toBeGreaterThanOrEqual(2);
    expect(devices).toContain('mobile');

    // Dropped off after step 1: viewers who never carted, a page at a time, and all of them as CSV.
    const droppedAfterFirst = counts[0] - counts[1];
    await page.waitForSelector(`[data-testid=dropped-off] p:has-text("${droppedAfterFirst.toLocaleString('en')} units stopped after step 1")`, APPEARS);
    expect(await page.locator('[data-testid=dropped-off-table] tbody tr').count()).toBe(Math.min(20, droppedAfterFirst));
    const firstPage = await page.locator('[data-testid=dropped-off-table] tbody tr td:first-child').allTextContents();
    await page.click('[data-testid=dropped-next]');
    await page.waitForSelector('[data-testid=dropped-off] p:has-text("page 2 of")', APPEARS);
    const secondPage = await page.locator('[data-testid=dropped-off-table] tbody tr td:first-child').allTextContents();
    expect(secondPage.filter((userId) => firstPage.includes(userId))).toEqual([]);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-csv]')]);
    const csv = readFileSync((await download.path())!, 'utf8').trim().split('\n');
    expect(csv[0]).toBe('userId,sessionId,reachedAt');
    expect(csv.length - 1).toBe(droppedAfterFirst);
    expect(csv.slice(1, 21).map((line) => line.split(',')[0])).toEqual(firstPage);

    // Why? on step 2: the drivers the API gives, in its order, and the first one opens its dropped-off users.
    await page.click('[data-testid=why-step-2]');
    await page.waitForSelector('[data-testid=why-panel]', APPEARS);
    const DRIVERS = 'query($input: FunnelInput!) { funnelDrivers(input: $input, step: 2, options: { top: 5 }) { positive { label oddsRatio droppedOff { factor count } } negative { label oddsRatio droppedOff { factor count } } } }';
    const why = (await t.gql<{ funnelDrivers: Record<'positive' | 'negative', { label: string; oddsRatio: number; droppedOff: { factor: string; count: number } }[]> }>(DRIVERS, { input }, keys.analyst)).data!.funnelDrivers;
    const apiDrivers = [...why.positive, ...why.negative];
    expect(apiDrivers.length).toBeGreaterThan(0);
    const rows = page.locator('[data-testid=why-drivers] tbody tr');
    expect(await rows.locator('td:first-child').allTextContents()).toEqual(apiDrivers.map((driver) => driver.label));
    expect(await rows.locator('td:nth-child(2)').allTextContents()).toEqual(apiDrivers.map((driver) => driver.oddsRatio.toLocaleString('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 })));
    expect(await page.getAttribute('[data-testid=why-chart]', 'data-drawn')).toBe('1');
    // The model's part: its table, or the API's reason when no propensity model is active yet.
    await page.waitForSelector('[data-testid=why-model], [data-testid=why-model-reason]', APPEARS);
    const opened = apiDrivers[0];
    const list = await t.gql<{ droppedOff: { totalCount: number } }>('query($input: FunnelInput!, $factor: String) { droppedOff(input: $input, afterStep: 2, factor: $factor) { totalCount } }', { input, factor: opened.droppedOff.factor }, keys.analyst);
    expect(list.data!.droppedOff.totalCount).toBe(opened.droppedOff.count);
    await rows.first().locator('button').click();
    await page.waitForSelector(`[data-testid=dropped-off] p:has-text("${opened.droppedOff.count.toLocaleString('en')} units with ${opened.label} stopped after step 2")`, APPEARS);
    expect(await page.locator('[data-testid=dropped-off-table] tbody tr').count()).toBe(Math.min(20, opened.droppedOff.count));
    await screenshot(page, 'funnels');

    // Saved, listed, and opened again: the builder gets back every setting of the definition.
    await page.check('input[name=excludeAnomalous]');
    await page.fill('input[name=saveName]', 'view to purchase');
    await page.click('button:text("Save funnel")');
    await page.waitForSelector('[data-testid=saved-funnels-table] td:text("view → cart → purchase")', APPEARS);
    await page.uncheck('input[name=excludeAnomalous]');
    await page.fill('input[name=breakdown]', '');
    await page.click('[data-testid=saved-funnels-table] button:text("Open")');
    expect(await page.isChecked('input[name=excludeAnomalous]')).toBe(true);
    expect(await page.inputValue('input[name=breakdown]')).toBe('device');
    await page.waitForSelector('[data-testid=run-funnel]:enabled', APPEARS);
    await page.close();
  });

  it('client: sees a served list with item details and the model behind each item; server: the predictions', async () => {
    await waitForJobs(setupJobs);
    const page = await signIn('client');
    // The public key sees no predictions (docs/privacy.md).
    expect(await navTitles(page)).toEqual(['Recommendations']);
    await page.fill('input[name=userId]', buyer.userId);
    await page.click('[data-testid=recommend-user]');
    await page.waitForSelector('[data-testid=served-list] tbody tr:nth-child(10)', APPEARS);
    const sources = await page.locator('[data-testid=served-list] tbody tr td:nth-child(7)').allTextContents();
    expect(sources.every((source) => /^(POPULARITY v1|REENGAGEMENT|CATALOG|ITEM_KNN v\d+|MATRIX_FACTORIZATION v\d+)$/.test(source))).toBe(true);
    expect(sources.some((source) => source === 'POPULARITY v1')).toBe(true);
    expect((await page.locator('[data-testid=served-list] tbody tr:first-child td:nth-child(3)').textContent())!.length).toBeGreaterThan(1);
    await screenshot(page, 'recommendations-client');
    await page.close();

    const server = await signIn('server');
    expect(await navTitles(server)).toEqual(['Recommendations', 'Predictions']);
    await predictionsAsServer(server);
  });

  async function predictionsAsServer(page: Page): Promise<void> {
    await page.click('[data-testid=nav-predictions]');
    await page.fill('input[name=propensityUser]', buyer.userId);
    await page.click('[data-testid=predict-propensity]');
    await page.waitForSelector('[data-testid=propensity]:has-text("chance of a purchase")', APPEARS);
    expect(await page.getAttribute('[data-testid=propensity-chart]', 'data-drawn')).toBe('1');
    await page.click('[data-testid=predict-next-step]');
    await page.waitForSelector('[data-testid=next-step]:has-text("Likeliest next: ")', APPEARS);
    expect(await page.textContent('[data-testid=next-step]')).toMatch(/Likeliest next: (view|cart|checkout|purchase|exit)\./);
    expect(await page.locator('section:has-text("At-risk users")').count()).toBe(0);
    await screenshot(page, 'predictions-server');
    await page.close();
  }

  it('analyst: reads flagged users in words and one user’s risk; an admin labels one; performance per recommender', async () => {
    await waitForJobs(setupJobs);
    // Feedback on a served list, so the performance table has a row.
    const served = await t.gql<{ recommendations: { items: { recommendationId: string }[] } }>(
      'query($userId: ID!) { recommendations(userId: $userId, limit: 5) { items { recommendationId } } }',
      { userId: buyer.userId },
      keys.client,
    );
    const feedback = served.data!.recommendations.items.flatMap((item, index) => [
      { recommendationId: item.recommendationId, userId: buyer.userId, type: 'IMPRESSION' },
      ...(index < 2 ? [{ recommendationId: item.recommendationId, userId: buyer.userId, type: 'CLICK' }] : []),
    ]);
    const recorded = await t.gql('mutation($f: [RecommendationFeedbackInput!]!) { recordRecommendationFeedback(feedback: $f) { accepted } }', { f: feedback }, keys.client);
    expect(recorded.data).toEqual({ recordRecommendationFeedback: { accepted: 7 } });

    const analyst = await signIn('analyst');
    await analyst.click('[data-testid=nav-anomalies]');
    await analyst.waitForSelector('[data-testid=anomalies-table] tbody tr', APPEARS);
    const firstFlagged = analyst.locator('[data-testid=anomalies-table] tbody tr').first();
    expect((await firstFlagged.locator('td:nth-child(4)').textContent())!.length).toBeGreaterThan(10);
    expect(await analyst.locator('[data-testid=anomalies-table] button[data-label]').count()).toBe(0);
    const flaggedUser = (await firstFlagged.locator('td:first-child').textContent())!;
    await firstFlagged.locator('td:first-child a').click();
    await analyst.waitForSelector(`[data-testid=user-risk] h2:has-text("User ${flaggedUser}: score")`, APPEARS);
    expect(await analyst.getAttribute('[data-testid=risk-chart]', 'data-drawn')).toBe('1');
    await screenshot(analyst, 'anomalies-analyst');

    await analyst.click('[data-testid=nav-predictions]');
    await analyst.waitForSelector('[data-testid=at-risk] :is(table, p)', APPEARS);
    // Analysts read predictions too (a trusted key), beside the at-risk list.
    expect(await analyst.locator('section:has-text("Purchase propensity")').count()).toBe(1);
    await analyst.click('[data-testid=nav-recommendations]');
    await analyst.waitForSelector('[data-testid=performance-table] tbody tr', APPEARS);
    // One row per recommender and version that served the five items: together, 5 impressions and 2 clicks.
    const sum = async (column: number) => (await analyst.locator(`[data-testid=performance-table] tbody tr td:nth-child(${column})`).allTextContents()).reduce((total, cell) => total + Number(cell), 0);
    expect([await sum(2), await sum(3)]).toEqual([5, 2]);
    // Per day, any figure of the table: the day's impressions and clicks add up to the same totals.
    await analyst.waitForSelector('[data-testid=performance-chart][data-drawn="1"]', APPEARS);
    // The sum of every point the chart draws, read from Chart.js in the page (a string: this file has no DOM types).
    const charted = () =>
      analyst.evaluate<number>(
        "Chart.getChart(document.querySelector('[data-testid=performance-chart]')).data.datasets.flatMap((dataset) => dataset.data).reduce((total, value) => total + (value ?? 0), 0)",
      );
    await analyst.selectOption('select[name=perfSeries]', 'Impressions');
    expect(await analyst.getAttribute('[data-testid=performance-chart]', 'data-drawn')).toBe('2');
    expect(await charted()).toBe(5);
    await analyst.selectOption('select[name=perfSeries]', 'Clicks');
    expect(await charted()).toBe(2);
    await screenshot(analyst, 'recommendations-analyst');
    await analyst.close();

    const admin = await signIn('admin');
    await admin.click('[data-testid=nav-anomalies]');
    await admin.click(`[data-testid=anomalies-table] button[data-label=BOT][data-user="${flaggedUser}"]`);
    const row = admin.locator('[data-testid=anomalies-table] tbody tr', { has: admin.locator(`button[data-user="${flaggedUser}"]`) });
    await row.locator('td:nth-child(5):text-is("BOT")').waitFor(APPEARS);
    // Stored: the API says so too.
    const label = await t.gql<{ userRisk: { label: { label: string } | null } }>('query($u: String!) { userRisk(userId: $u) { label { label } } }', { u: flaggedUser }, keys.analyst);
    expect(label.data!.userRisk.label).toEqual({ label: 'BOT' });
    await admin.close();
  });
});
