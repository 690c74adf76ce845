import { randomBytes } from 'node:crypto';
import { startTestApp, TestApp } from './support/app';

/** Records every secret the app looks up in PostgreSQL (ApiKeyService.authenticate) until restore(). */
function countLookups(t: TestApp): { looked: string[]; restore(): void } {
  const looked: string[] = [];
  const apiKeys = t.app.services.apiKeys;
  const authenticate = apiKeys.authenticate.bind(apiKeys);
  apiKeys.authenticate = (secret: string) => {
    looked.push(secret);
    return authenticate(secret);
  };
  return { looked, restore: () => (apiKeys.authenticate = authenticate) };
}

interface Answer {
  status: number;
  retryAfter: string | null;
  code?: string;
  message?: string;
}

async function ask(url: string, key: string | null, query = '{ health { status } }', headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    body: JSON.stringify({ query }),
  });
  const body = (await response.json()) as { errors?: { message: string; extensions: { code: string } }[] };
  return { status: response.status, retryAfter: response.headers.get('retry-after'), code: body.errors?.[0]?.extensions.code, message: body.errors?.[0]?.message };
}

/** Sends requests one after another until one is refused with 429 (at most `tries`); returns it and how many passed before. */
async function untilRefused(send: () => Promise<Answer>, tries = 500): Promise<{ refused: Answer | undefined; passed: number }> {
  let passed = 0;
  for (let n = 0; n < tries; n++) {
    const answer = await send();
    if (answer.status === 429) return { refused: answer, passed };
    passed++;
  }
  return { refused: undefined, passed };
}

function expectRateLimited(answer: Answer | undefined, message: RegExp): void {
  expect(answer).toBeDefined();
  expect(answer!.status).toBe(429);
  expect(answer!.code).toBe('RATE_LIMITED');
  expect(answer!.message).toMatch(message);
  expect(Number(answer!.retryAfter)).toBeGreaterThanOrEqual(1);
}

const STATS = '{ eventStats(from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z") { total } }';

describe('rate limits per API key and per address', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp('ratelimit', { FUNNELCAST_RATE_LIMIT_PER_KEY: '5', FUNNELCAST_RATE_LIMIT_PER_ADDRESS: '0', FUNNELCAST_AUTH_FAILURES_PER_MINUTE: '3' });
  });
  afterAll(() => t.stop());

  it('answers 429 with Retry-After to a key over its rate, while other keys go on', async () => {
    const busy = await t.createKey('client', 'busy shop');
    const calm = await t.createKey('client', 'calm shop');
    const { refused } = await untilRefused(() => ask(t.url, busy));
    expectRateLimited(refused, /this API key: at most 5 a second/);
    expect((await ask(t.url, calm)).status).toBe(200);
  });

  it('throttles key guessing per address before any key is looked up', async () => {
    const { looked, restore } = countLookups(t);
    try {
      const guesses: Answer[] = [];
      for (let n = 0; n < 6; n++) guesses.push(await ask(t.url, `guess-${randomBytes(8).toString('hex')}`, STATS));
      expect(guesses.slice(0, 3).map((answer) => answer.code)).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED']);
      for (const answer of guesses.slice(3)) expectRateLimited(answer, /failed authentications from this address/);
      expect(looked).toHaveLength(3);
      // The address is blocked for credentials until the minute is over; requests without a key still go.
      expect((await ask(t.url, null)).status).toBe(200);
    } finally {
      restore();
    }
  });

  it('answers /healthz without counting it', async () => {
    const narrow = await startTestApp('ratelimitaddr', { FUNNELCAST_RATE_LIMIT_PER_ADDRESS: '2' });
    try {
      for (let n = 0; n < 10; n++) expect((await fetch(narrow.url.replace('/graphql', '/healthz'))).status).toBe(200);
      const { refused } = await untilRefused(() => ask(narrow.url, null));
      expectRateLimited(refused, /from this address: at most 2 a second/);
    } finally {
      await narrow.stop();
    }
  });
});

describe('failed authentications under a burst of parallel guesses', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp('authburst', { FUNNELCAST_RATE_LIMIT_PER_ADDRESS: '0', FUNNELCAST_AUTH_FAILURES_PER_MINUTE: '10' });
  });
  afterAll(() => t.stop());

  it('looks up at most FUNNELCAST_AUTH_FAILURES_PER_MINUTE keys of 100 sent at once; the rest get 429; known valid keys still pass', async () => {
    // A key no request has used yet: 50 requests with it at once share one lookup and one attempt, given back.
    const fresh = await t.createKey('analyst', 'fresh');
    expect((await t.gql('{ health { status } }')).status).toBe(200); // the admin key is now known valid
    const burstOfValid = await Promise.all(Array.from({ length: 50 }, () => ask(t.url, fresh, STATS)));
    expect(burstOfValid.filter((answer) => answer.status !== 200 || answer.code !== undefined)).toEqual([]);

    const { looked, restore } = countLookups(t);
    try {
      const guesses = await Promise.all(Array.from({ length: 100 }, () => ask(t.url, `guess-${randomBytes(8).toString('hex')}`, STATS)));
      const refused = guesses.filter((answer) => answer.status === 429);
      const unauthenticated = guesses.filter((answer) => answer.code === 'UNAUTHENTICATED');
      expect(looked.length).toBeLessThanOrEqual(10);
      expect(unauthenticated).toHaveLength(looked.length);
      expect(refused).toHaveLength(100 - looked.length);
      for (const answer of refused) expectRateLimited(answer, /failed authentications from this address \(10 a minute\)/);

      // Keys that were valid at their last lookup pass, though the address is over its limit.
      looked.length = 0;
      const admin = await ask(t.url, t.adminKey, STATS);
      expect([admin.status, admin.code]).toEqual([200, undefined]);
      const analyst = await ask(t.url, fresh, STATS);
      expect([analyst.status, analyst.code]).toEqual([200, undefined]);
      // A valid key this process has not seen yet waits like any unknown key.
      const unseen = await t.createKey('analyst', 'unseen');
      expectRateLimited(await ask(t.url, unseen, STATS), /failed authentications from this address/);
      expect(looked).not.toContain(unseen);
    } finally {
      restore();
    }
  });
});

describe('rate limits while Redis is away', () => {
  it('keeps counting in memory: requests pass until the rate, then 429', async () => {
    const t = await startTestApp('ratelimitnoredis', { REDIS_URL: 'redis://127.0.0.1:1', FUNNELCAST_RATE_LIMIT_PER_KEY: '5' });
    try {
      const { refused, passed } = await untilRefused(() => ask(t.url, t.adminKey));
      expect(passed).toBeGreaterThanOrEqual(5);
      expectRateLimited(refused, /this API key: at most 5 a second/);
    } finally {
      await t.stop();
    }
  });
});

describe('default limits', () => {
  it('let a steady client through', async () => {
    const t = await startTestApp('ratelimitdefault');
    try {
      const answers = await Promise.all(Array.from({ length: 200 }, () => ask(t.url, t.adminKey)));
      expect(answers.filter((answer) => answer.status !== 200)).toEqual([]);
    } finally {
      await t.stop();
    }
  });
});

describe('client addresses behind a trusted proxy (FUNNELCAST_TRUSTED_PROXIES)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp('trustedproxy', { FUNNELCAST_TRUSTED_PROXIES: 'loopback', FUNNELCAST_AUTH_FAILURES_PER_MINUTE: '3' });
  });
  afterAll(() => t.stop());

  it("counts failed authentications per client named in X-Forwarded-For, not per proxy", async () => {
    const guess = (client: string) => ask(t.url, `guess-${randomBytes(8).toString('hex')}`, STATS, { 'x-forwarded-for': client });
    const fromGuesser: Answer[] = [];
    for (let n = 0; n < 5; n++) fromGuesser.push(await guess('203.0.113.5'));
    expect(fromGuesser.slice(0, 3).map((answer) => answer.code)).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED']);
    for (const answer of fromGuesser.slice(3)) expectRateLimited(answer, /failed authentications from this address/);
    // Another shopper behind the same proxy (same socket address) is not blocked by the guesser.
    expect((await guess('203.0.113.6')).code).toBe('UNAUTHENTICATED');
    // The proxy appends the address it saw: a client cannot hide behind a forged first entry.
    expect((await guess('198.51.100.1, 203.0.113.5')).status).toBe(429);
  });
});
