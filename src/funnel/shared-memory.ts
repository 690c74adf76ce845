/**
 * Typed arrays on SharedArrayBuffer. The event mirror allocates its columns with these, so the
 * funnel worker threads (funnel-pool.ts) read the very same memory: handing a snapshot to a worker
 * shares its buffers instead of copying them. Zero-filled, like `new Float64Array(n)`.
 */
export function sharedFloat64(length: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(length * Float64Array.BYTES_PER_ELEMENT));
}

export function sharedInt32(length: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(length * Int32Array.BYTES_PER_ELEMENT));
}

export function sharedUint16(length: number): Uint16Array {
  return new Uint16Array(new SharedArrayBuffer(length * Uint16Array.BYTES_PER_ELEMENT));
}

export function sharedUint8(length: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(length));
}
