import { Client } from 'pg';
import { float4ArrayText, float4Text, Float4RangeError, FLOAT4_MAX, FLOAT4_MIN_NORMAL, toFloat4 } from './float4';

// float4's limits from its layout (8 exponent bits, 23 fraction bits), not from the module.
const SMALLEST_NORMAL = 2 ** -126;
const LARGEST_FINITE = (2 - 2 ** -23) * 2 ** 127;
const SMALLEST_SUBNORMAL = 2 ** -149;

describe('toFloat4', () => {
  it('has the limits of IEEE 754 binary32', () => {
    expect(FLOAT4_MIN_NORMAL).toBe(SMALLEST_NORMAL);
    expect(FLOAT4_MAX).toBe(LARGEST_FINITE);
  });

  it('passes ordinary values through unchanged', () => {
    for (const value of [0, 1, -1, 0.5, 123.456, 1e-30, -1e-30, 3e38, SMALLEST_NORMAL, -SMALLEST_NORMAL, LARGEST_FINITE]) {
      expect(toFloat4(value, 'x')).toBe(value);
    }
  });

  it('stores as 0 what lies below the smallest normal float4, subnormals and negative zero included', () => {
    // 4.6e-70 is the popularity of the long-stale item; 2^-(age/half-life) gets there.
    for (const value of [4.6e-70, -4.6e-70, 1e-39, SMALLEST_SUBNORMAL, SMALLEST_NORMAL * 0.999, Number.MIN_VALUE, -0]) {
      expect(Object.is(toFloat4(value, 'x'), 0)).toBe(true);
    }
  });

  it('refuses NaN, infinities and what float4 rounds to infinity, naming the quantity', () => {
    // Half an ulp (2^104) above the largest float4 rounds to infinity; a little less still rounds down to it.
    const halfUlpAbove = LARGEST_FINITE + 2 ** 103;
    expect(toFloat4(LARGEST_FINITE + 2 ** 102, 'x')).toBe(LARGEST_FINITE + 2 ** 102);
    for (const value of [NaN, Infinity, -Infinity, 1e39, -1e39, halfUlpAbove, Number.MAX_VALUE]) {
      expect(() => toFloat4(value, 'popularity_scores.scores')).toThrow(Float4RangeError);
    }
    expect(() => toFloat4(1e39, 'popularity_scores.scores')).toThrow(/popularity_scores\.scores is 1e\+39, beyond what a real \(float4\) column holds/);
    expect(() => toFloat4(NaN, 'anomaly_scores.score')).toThrow(/anomaly_scores\.score is NaN/);
  });

  it('writes text with six significant digits and a plain 0 for what it flushes', () => {
    expect(float4Text(0.1234567, 'x')).toBe('0.123457');
    expect(float4Text(4.6e-70, 'x')).toBe('0');
    expect(float4Text(-0, 'x')).toBe('0');
    expect(float4ArrayText([2.5, 4.6e-70, 1e-20], 'x')).toBe('{2.50000,0,1.00000e-20}');
    expect(float4ArrayText([], 'x')).toBe('{}');
  });
});

/** PostgreSQL's own answer for what the writers send: every value toFloat4 lets through is accepted. */
describe('float4Text against PostgreSQL', () => {
  const URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  let client: Client;
  beforeAll(async () => {
    client = new Client({ connectionString: URL });
    await client.connect();
  });
  afterAll(() => client?.end());

  it('is refused unflushed: the bug this module exists for', async () => {
    await expect(client.query(`SELECT '4.6e-70'::real`)).rejects.toThrow(/out of range for type real/);
    await expect(client.query(`SELECT $1::real[]`, [[1, 4.6e-70]])).rejects.toThrow(/out of range for type real/);
  });

  it('is accepted for the boundary values, as text and as a real[] literal', async () => {
    const values = [4.6e-70, -4.6e-70, SMALLEST_SUBNORMAL, SMALLEST_NORMAL, SMALLEST_NORMAL * 1.0000001, -SMALLEST_NORMAL, 1, LARGEST_FINITE, -LARGEST_FINITE, LARGEST_FINITE + 2 ** 102];
    const { rows } = await client.query<{ stored: number[] }>(`SELECT $1::real[]::float8[] AS stored`, [float4ArrayText(values, 'x')]);
    const stored = rows[0].stored;
    expect(stored).toHaveLength(values.length);
    expect(stored.slice(0, 3)).toEqual([0, 0, 0]);
    // Six digits: what comes back is within 5e-6 relative of what was sent.
    for (let i = 3; i < values.length; i++) expect(Math.abs(stored[i] - values[i]) / Math.abs(values[i])).toBeLessThan(5e-6);
    for (const value of values) {
      const single = await client.query<{ stored: number }>(`SELECT $1::real::float8 AS stored`, [toFloat4(value, 'x')]);
      expect(Number.isFinite(single.rows[0].stored)).toBe(true);
    }
  });
});
