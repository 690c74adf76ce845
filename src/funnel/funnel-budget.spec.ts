import { FunnelBudget } from './funnel-budget';

const never = () => new Promise<never>(() => undefined);
const codeOf = (error: unknown) => (error as { extensions?: { code?: string } }).extensions?.code;

describe('FunnelBudget.race', () => {
  it("passes the work's result or failure through while the budget lasts", async () => {
    const budget = new FunnelBudget(60_000);
    await expect(budget.race(Promise.resolve(42))).resolves.toBe(42);
    await expect(budget.race(Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  });

  it('answers FUNNEL_TIMEOUT at the deadline although the work never ends', async () => {
    const error = await new FunnelBudget(20).race(never()).catch((caught: unknown) => caught);
    expect(codeOf(error)).toBe('FUNNEL_TIMEOUT');
  });

  it('answers CLIENT_CLOSED_REQUEST when the client goes, before or during the work', async () => {
    const during = new AbortController();
    const pending = new FunnelBudget(60_000, { signal: during.signal }).race(never()).catch((caught: unknown) => caught);
    during.abort();
    expect(codeOf(await pending)).toBe('CLIENT_CLOSED_REQUEST');

    const before = new AbortController();
    before.abort();
    expect(codeOf(await new FunnelBudget(60_000, { signal: before.signal }).race(never()).catch((caught: unknown) => caught))).toBe('CLIENT_CLOSED_REQUEST');
  });
});
