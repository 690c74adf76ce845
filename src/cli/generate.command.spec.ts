import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDemoShop } from '../sim/generator';
import { readShopFile } from '../sim/shop-file.reference';
import { run } from './generate.command';

describe('funnelcast generate', () => {
  let directory: string;
  let errors: string[];

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'sim-'));
    errors = [];
    jest.spyOn(console, 'error').mockImplementation((message: string) => void errors.push(message));
    jest.spyOn(console, 'log').mockImplementation(() => undefined);
  });

  afterEach(() => {
    jest.restoreAllMocks();
    rmSync(directory, { recursive: true, force: true });
  });

  it('writes the shop (realistic profile) and its labels to files and reports a summary', async () => {
    const out = join(directory, 'shop.ndjson');
    const labels = join(directory, 'labels.csv');
    const code = await run(['--users', '300', '--days', '3', '--seed', '4', '--items', '60', '--start', '2026-03-01T00:00:00Z', '--out', out, '--labels', labels]);
    expect(code).toBe(0);
    const shop = createDemoShop({ users: 300, days: 3, seed: 4, items: 60, start: '2026-03-01T00:00:00Z', profile: 'realistic' });
    const parsed = readShopFile(readFileSync(out, 'utf8'));
    expect(parsed.items).toEqual(shop.items);
    expect(parsed.events).toEqual([...shop.events()]);
    expect(readFileSync(labels, 'utf8').trimEnd().split('\n')).toHaveLength(301);
    expect(errors.join('\n')).toMatch(new RegExp(`generated ${parsed.events.length} events for 300 users .* and 60 items in .* events/s`));
  });

  it('writes the classic shop with --profile classic', async () => {
    const out = join(directory, 'shop.ndjson');
    expect(await run(['--users', '200', '--days', '2', '--seed', '4', '--start', '2026-03-01T00:00:00Z', '--profile', 'classic', '--out', out])).toBe(0);
    const classic = createDemoShop({ users: 200, days: 2, seed: 4, start: '2026-03-01T00:00:00Z', profile: 'classic' });
    const parsed = readShopFile(readFileSync(out, 'utf8'));
    expect(parsed.items).toHaveLength(50); // max(50, 200 / 4); the realistic catalogue would hold 400
    expect(parsed.events).toEqual([...classic.events()]);
  });

  it('ends the shop at the last UTC midnight unless --start is given', async () => {
    const out = join(directory, 'shop.ndjson');
    const midnight = () => Math.floor(Date.now() / 86_400_000) * 86_400_000;
    const before = midnight();
    expect(await run(['--users', '200', '--days', '2', '--seed', '4', '--out', out])).toBe(0);
    const after = midnight(); // the run may straddle a midnight
    const times = readShopFile(readFileSync(out, 'utf8')).events.map((event) => event.timestamp);
    const [first, last] = [Math.min(...times), Math.max(...times)];
    expect(first).toBeGreaterThanOrEqual(before - 2 * 86_400_000);
    expect(last).toBeLessThan(after);
    // The last day is not empty: 200 visitors over 2 days leave events in the final 24 hours.
    expect(last).toBeGreaterThanOrEqual(before - 86_400_000);
  });

  it('prints help and rejects bad options with a usage message', async () => {
    expect(await run(['--help'])).toBe(0);
    expect(await run(['--users', 'many'])).toBe(2);
    expect(await run(['--users', '10', '--colour', 'red'])).toBe(2);
    expect(errors.join('\n')).toContain('--colour');
    expect(await run(['--users', '10', '--profile', 'easy'])).toBe(2);
    expect(errors.join('\n')).toContain('--profile must be one of classic, realistic (got easy)');
  });
});
