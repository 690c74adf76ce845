/**
 * Reading a key that comes from outside (a property key in a funnel filter or breakdown, a column
 * of an imported file, a command-line word) off a plain object must never reach Object.prototype:
 * `{}['constructor']` is a function, `{}['__proto__']` is the prototype itself, and `'valueOf' in {}`
 * is true. Those answers once crashed the event mirror's catch-up and matched events without the
 * key. Fixed lookup tables are Maps; objects that arrive as JSON are read through these helpers.
 */

/** True when `object` itself (not its prototype chain) holds `key`; false for null, undefined and primitives. */
export function hasOwnKey(object: unknown, key: string): boolean {
  return typeof object === 'object' && object !== null && Object.hasOwn(object, key);
}

/**
 * `object[key]` when `object` itself holds `key`, else undefined: never a member inherited from
 * Object.prototype. Null, undefined and primitives give undefined.
 */
export function ownValue(object: unknown, key: string): unknown {
  return hasOwnKey(object, key) ? (object as Record<string, unknown>)[key] : undefined;
}
