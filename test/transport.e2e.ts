import { request as httpRequest, IncomingMessage } from 'node:http';
import { startTestApp, TestApp } from './support/app';

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp('transport', {
    FUNNELCAST_BODY_TIMEOUT_MS: '1000',
    FUNNELCAST_CORS_ORIGINS: 'https://shop.example, http://localhost:3000',
    FUNNELCAST_MAX_BODY_VALUES: '1000',
  });
});
afterAll(() => t.stop());

interface RawAnswer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

function readAnswer(response: IncomingMessage): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    let body = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (body += chunk));
    response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
    response.on('error', reject);
  });
}

/**
 * POSTs `chunks` one after another with chunked transfer encoding (no Content-Length), waiting for
 * the socket to take each; `stallAfter` stops sending (without ending the body) after that many.
 */
function postChunked(url: string, chunks: Buffer[], stallAfter = Infinity, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } });
    request.on('response', (response) => readAnswer(response).then(resolve, reject));
    request.on('error', reject);
    let sent = 0;
    const sendNext = () => {
      while (sent < chunks.length && sent < stallAfter) {
        const more = request.write(chunks[sent++]);
        if (!more) {
          request.once('drain', sendNext);
          return;
        }
      }
      if (sent === chunks.length) request.end();
    };
    sendNext();
  });
}

describe('request bodies', () => {
  it('answers the same 17 MB body from a client without a key with a readable 413 too (the smaller anonymous limit)', async () => {
    const megabyte = Buffer.alloc(1_000_000, 'a');
    const chunks = [Buffer.from('{"query": "{ health { status } }", "padding": "'), ...Array.from({ length: 17 }, () => megabyte), Buffer.from('"}')];
    const answer = await postChunked(t.url, chunks);
    expect(answer.status).toBe(413);
    const body = JSON.parse(answer.body);
    expect(body.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
    expect(body.errors[0].message).toMatch(/limit without a valid API key/);
  });

  it('answers a 17 MB body streamed without a length with a readable 413, then keeps serving', async () => {
    const megabyte = Buffer.alloc(1_000_000, 'a');
    const chunks = [Buffer.from('{"query": "{ health { status } }", "padding": "'), ...Array.from({ length: 17 }, () => megabyte), Buffer.from('"}')];
    const answer = await postChunked(t.url, chunks, Infinity, { authorization: `Bearer ${t.adminKey}` });
    expect(answer.status).toBe(413);
    expect(answer.headers['transfer-encoding']).toBeUndefined();
    const body = JSON.parse(answer.body);
    expect(body.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
    expect(body.errors[0].message).toMatch(/larger than 16777216 bytes/);
    const health = await t.gql('{ health { status } }', {}, null);
    expect(health.data!.health.status).toBe('ok');
  });

  it('answers 413 for a declared Content-Length over the limit', async () => {
    const padding = 'a'.repeat(16 * 1024 * 1024);
    const response = await fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` },
      body: JSON.stringify({ query: '{ health { status } }', padding }),
    });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('gives requests without a valid key a 64 KiB body limit (FUNNELCAST_MAX_ANONYMOUS_BODY_BYTES), keyed ones the full one', async () => {
    // 100 KB: over the anonymous limit, far under the keyed one (16 MiB), and under twice the
    // anonymous limit, so the server reads it to the end and the client reads the 413.
    const body = JSON.stringify({ query: '{ health { status } }', variables: { padding: 'a'.repeat(100_000) } });
    const post = (key: string | null) =>
      fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) }, body });
    for (const key of [null, 'not-a-valid-key-0123456789']) {
      const response = await post(key);
      expect(response.status).toBe(413);
      const answer = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
      expect(answer.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
      expect(answer.errors[0].message).toMatch(/larger than 65536 bytes; that is the limit without a valid API key: authenticate \(Authorization: Bearer <key>\) or send less/);
    }
    const keyed = await post(t.adminKey);
    expect(keyed.status).toBe(200);
    expect(((await keyed.json()) as { data: { health: { status: string } } }).data.health.status).toBe('ok');
  });

  it('refuses a body with more values than FUNNELCAST_MAX_BODY_VALUES before parsing it, with a key too', async () => {
    const unused = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, 1]));
    // 1,001 members in `variables`, plus the body's own two and the variables object: over 1,000.
    const many = await t.gql('{ health { status } }', unused(1001));
    expect(many.status).toBe(413);
    expect(many.errors![0].extensions!.code).toBe('PAYLOAD_TOO_LARGE');
    expect(many.errors![0].message).toMatch(/more than 1000 values/);
    const list = await t.gql('query($ids: [ID!]!) { sessionRecommendations(itemIds: $ids) { listId } }', { ids: Array.from({ length: 1500 }, (_, i) => `i${i}`) });
    expect(list.status).toBe(413);
    expect(list.errors![0].message).toMatch(/more than 1000 values/);
    // Commas and brackets inside strings are not values.
    const fine = await t.gql('{ health { status } }', { ...unused(900), text: ',[{'.repeat(1000) });
    expect(fine.status).toBe(200);
    expect(fine.data!.health.status).toBe('ok');
  });

  it('cuts a body that stops arriving with 408 after FUNNELCAST_BODY_TIMEOUT_MS', async () => {
    const answer = await postChunked(t.url, [Buffer.from('{"query": "{ hea'), Buffer.from('lth { status } }"}')], 1);
    expect(answer.status).toBe(408);
    expect(answer.headers.connection).toBe('close');
    const body = JSON.parse(answer.body);
    expect(body.errors[0].extensions.code).toBe('REQUEST_TIMEOUT');
    expect(body.errors[0].message).toMatch(/stopped arriving for 1000 ms/);
  });

  it('refuses a compressed body with 415, saying to send it uncompressed', async () => {
    const { gzipSync } = await import('node:zlib');
    const body = gzipSync(JSON.stringify({ query: '{ health { status } }' }));
    const response = await fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body });
    expect(response.status).toBe(415);
    const answer = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(answer.errors[0].extensions.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(answer.errors[0].message).toMatch(/Content-Encoding "gzip" is not accepted; send the body uncompressed/);
  });

  it('refuses a body that is not UTF-8 instead of turning its bad bytes into U+FFFD', async () => {
    const INGEST = 'mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted } }';
    const event = (userId: string) => ({ eventId: `utf8-${userId}`, type: 'view', userId, timestamp: new Date().toISOString() });
    const prefix = Buffer.from(JSON.stringify({ query: INGEST, variables: { events: [event('user-X')] } }));
    // The same request with the byte of "X" replaced by 0xFF, which UTF-8 never uses.
    const broken = Buffer.from(prefix);
    broken[prefix.indexOf('user-X') + 5] = 0xff;
    const response = await fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` }, body: broken });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0].extensions.code).toBe('BAD_REQUEST');
    expect(body.errors[0].message).toMatch(/not valid UTF-8/);
    const [stored] = await t.app.services.dataSource.query(`SELECT count(*)::int AS n FROM events WHERE event_id LIKE 'utf8-%'`);
    expect(stored.n).toBe(0);
    // Valid multi-byte text still goes through.
    const fine = await t.gql(INGEST, { events: [event('usér-✓')] });
    expect(fine.data!.ingestEvents.accepted).toBe(1);
  });

  it('still takes a body sent in pieces with short pauses', async () => {
    const pieces = ['{"query": "{ hea', 'lth { status } }"}'].map((piece) => Buffer.from(piece));
    const answer = await new Promise<RawAnswer>((resolve, reject) => {
      const request = httpRequest(t.url, { method: 'POST', headers: { 'content-type': 'application/json' } });
      request.on('response', (response) => readAnswer(response).then(resolve, reject));
      request.on('error', reject);
      request.write(pieces[0]);
      setTimeout(() => request.end(pieces[1]), 100);
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).data.health.status).toBe('ok');
  });
});

describe('CORS (FUNNELCAST_CORS_ORIGINS)', () => {
  const preflight = (origin: string) =>
    fetch(t.url, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' },
    });

  it('answers the preflight of an allowed origin', async () => {
    const response = await preflight('https://shop.example');
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(response.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(response.headers.get('access-control-allow-headers')).toBe('content-type, authorization');
    expect(Number(response.headers.get('access-control-max-age'))).toBeGreaterThan(0);
    expect(response.headers.get('vary')).toMatch(/Origin/);
  });

  it('lets an allowed origin read answers, and gives other origins no CORS headers', async () => {
    const ask = (origin: string) =>
      fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', origin }, body: JSON.stringify({ query: '{ health { status } }' }) });
    const allowed = await ask('http://localhost:3000');
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    expect(((await allowed.json()) as { data: { health: { status: string } } }).data.health.status).toBe('ok');

    const other = await ask('https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const refused = await preflight('https://evil.example');
    expect(refused.status).toBe(403);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    expect(refused.headers.get('access-control-allow-methods')).toBeNull();
  });

  it('allows any origin with *', async () => {
    const open = await startTestApp('transportcors', { FUNNELCAST_CORS_ORIGINS: '*' });
    try {
      const response = await fetch(open.url, { method: 'OPTIONS', headers: { origin: 'https://anywhere.example', 'access-control-request-method': 'POST' } });
      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
    } finally {
      await open.stop();
    }
  });
});
