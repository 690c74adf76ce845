/**
 * Typed arrays reused from one funnel evaluation to the next on the same thread. A funnel over ten
 * million events needs a 40 MB step mask for the base segment and a 25 MB table of step times;
 * allocating them per query made every run fault in fresh pages and collect the old ones, about a
 * tenth of a whole funnel's time and a sixth of a split part's (docs/benchmarks.md, "One funnel on
 * both cores").
 *
 * Safe because a thread evaluates one funnel at a time, and a funnel's evaluation is made, used and
 * dropped within one synchronous call (`runFunnelJob`, `runFunnelPart`): no await can let another
 * funnel in between, and nothing handed out of that call may be a view of a scratch array (outcomes
 * copy what they keep). The contents of an array handed out are whatever the last user left:
 * callers write every entry they later read. Memory: each thread keeps the largest array of each
 * slot so far (about 65 MB per funnel worker at ten million events, twice with exclusions).
 */
const uint32 = new Map<string, Uint32Array>();
const float64 = new Map<string, Float64Array>();

/** A Uint32Array of `size` entries for `slot`, with unspecified contents. */
export function scratchUint32(slot: string, size: number): Uint32Array {
  let array = uint32.get(slot);
  if (!array || array.length < size) uint32.set(slot, (array = new Uint32Array(size)));
  return array.subarray(0, size);
}

/** A Float64Array of `size` entries for `slot`, with unspecified contents. */
export function scratchFloat64(slot: string, size: number): Float64Array {
  let array = float64.get(slot);
  if (!array || array.length < size) float64.set(slot, (array = new Float64Array(size)));
  return array.subarray(0, size);
}
