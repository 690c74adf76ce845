import { intFlag, parseArgs } from '../src/cli/args';
import { ControlledFunnel, FunnelControls } from '../src/funnel/controlled-funnel';
import { Rng } from '../src/ml/random';
import { WindowFunnel } from '../src/funnel/window-funnel';
import { elapsedSeconds, rate } from './support';

/**
 * `npm run bench funnel-controls -- [--users 200000] [--events 12] [--repeat 3] [--seed 1]`
 *
 * The engines alone, in memory, on one thread: the linear windowFunnel engine (what every funnel
 * without controls runs on) against the exact controlled evaluator (controlled-funnel.ts), on the
 * same synthetic units: a 4-step funnel, 1 h window, ms timestamps, each unit `--events` events
 * spread over 3 h, 5 event types (4 steps and one other), a held value from 3. The evaluator runs
 * without controls (its own overhead) and with each control. Both report the same levels without
 * controls (checked here); the median of `--repeat` passes is printed.
 */
export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { users: 'string', events: 'string', repeat: 'string', seed: 'string' } });
  const users = intFlag(args, 'users', 200_000);
  const perUser = intFlag(args, 'events', 12);
  const repeat = intFlag(args, 'repeat', 3);
  const random = Rng.stream(intFlag(args, 'seed', 1));
  const count = users * perUser;
  const timestamps = new Float64Array(count);
  const stepMasks = new Uint32Array(count);
  const values = new Int32Array(count);
  const offsets = new Int32Array(users + 1);
  for (let u = 0, i = 0; u < users; u++) {
    offsets[u] = i;
    let clock = 1_700_000_000_000 + random.below(86_400_000);
    for (let e = 0; e < perUser; e++, i++) {
      clock += random.below(900_000);
      timestamps[i] = clock;
      const type = random.below(5);
      stepMasks[i] = type < 4 ? 1 << type : 0;
      values[i] = 1 + random.below(3);
    }
    offsets[u + 1] = i;
  }
  const options = { stepCount: 4, conversionWindow: 3_600_000, modes: {} };
  const variants: { name: string; engine: WindowFunnel | ControlledFunnel }[] = [
    { name: 'linear engine (no controls)', engine: new WindowFunnel(options) },
    { name: 'controlled evaluator, no controls', engine: new ControlledFunnel({ ...options, controls: {} }) },
  ];
  const controls: [string, FunnelControls][] = [
    ['per-step windows (10 min each)', { stepWindows: [Infinity, 600_000, 600_000, 600_000] }],
    ['minimum 30 s between steps', { minGaps: [0, 30_000, 30_000, 30_000] }],
    ['optional step 2', { optional: [false, true, false, false] }],
    ['held property (3 values)', { holdConstant: true }],
  ];
  for (const [name, control] of controls) variants.push({ name: `controlled evaluator, ${name}`, engine: new ControlledFunnel({ ...options, controls: control }) });

  const stepTimes = new Float64Array(users * 4);
  const levelsOf = (engine: WindowFunnel | ControlledFunnel): Uint8Array => {
    const levels = new Uint8Array(users);
    if (engine instanceof ControlledFunnel) engine.holdValues = values;
    for (let u = 0; u < users; u++) levels[u] = engine.evaluateUnit(timestamps, stepMasks, undefined, offsets[u], offsets[u + 1], stepTimes, u * 4);
    return levels;
  };
  const reference = levelsOf(variants[0].engine);
  const plain = levelsOf(variants[1].engine);
  if (reference.some((level, u) => level !== plain[u])) throw new Error('The controlled evaluator without controls disagrees with the linear engine.');
  console.log(`${users.toLocaleString('en-US')} units × ${perUser} events = ${count.toLocaleString('en-US')} events, median of ${repeat}`);
  let baseline = 0;
  for (const { name, engine } of variants) {
    const times: number[] = [];
    for (let r = 0; r < repeat; r++) {
      const started = process.hrtime.bigint();
      levelsOf(engine);
      times.push(elapsedSeconds(started));
    }
    const median = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
    if (baseline === 0) baseline = median;
    console.log(`${name.padEnd(52)} ${(median * 1000).toFixed(0).padStart(6)} ms  ${rate(count, median).padStart(14)} events  ${(median / baseline).toFixed(2)}×`);
  }
}
