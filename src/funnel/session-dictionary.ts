/**
 * The funnel mirror's session ids, kept off the JavaScript heap. A shop has about one session per
 * five events (1.9 M at 10 M demo events); as a JavaScript string each and a Map from string to
 * code, they made the mirror's heap 160 MB of small objects that every major garbage collection
 * of the API process walked, and interning ten million rows at load cost 3 s of string making and
 * map lookups. Here the ids are UTF-8 bytes appended to one arena, found again through an
 * open-addressing table of codes keyed by a hash of their bytes, so the collector sees a handful of
 * large buffers and the load interns a row's id straight from the COPY buffer.
 *
 * Codes start at 1 (0 is "no session", as in every mirror column) and never change. The arena and
 * the per-code offsets and lengths live on SharedArrayBuffer and are only appended to (a larger
 * buffer replaces a full one, the old one keeping what it held), so a `SessionNames` view handed to
 * a funnel worker stays valid for the codes it counts while the mirror goes on interning.
 */
import { sharedFloat64, sharedInt32, sharedUint8 } from './shared-memory';

/** A read-only view of the names of codes 1..count-1 (count = codes handed out + 1). */
export interface SessionNames {
  count: number;
  arena: Uint8Array;
  /** offsets[code]: where the code's bytes start in the arena; lengths[code]: how many. */
  offsets: Float64Array;
  lengths: Int32Array;
}

/** The session id of `code` (1..count-1). */
export function sessionName(names: SessionNames, code: number): string {
  if (!(code >= 1 && code < names.count)) throw new RangeError(`No session has code ${code} (codes run from 1 to ${names.count - 1}).`);
  const start = names.offsets[code];
  return Buffer.from(names.arena.buffer, names.arena.byteOffset + start, names.lengths[code]).toString('utf8');
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export class SessionDictionary {
  private arena = sharedUint8(1 << 16);
  private used = 0;
  private offsets = sharedFloat64(1024);
  private lengths = sharedInt32(1024);
  /** FNV-1a hash of each code's bytes, to skip byte comparisons and to rehash. */
  private hashes = new Int32Array(1024);
  /** Open addressing, linear probing: 0 is an empty slot, else a code. At most half full. */
  private slots = new Int32Array(1 << 12);
  private next = 1;

  /** The code of the UTF-8 bytes [start, end) of `bytes`, a new one the first time they are seen. */
  intern(bytes: Uint8Array, start: number, end: number): number {
    let hash = FNV_OFFSET;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i], FNV_PRIME);
    const length = end - start;
    const mask = this.slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const code = this.slots[slot];
      if (code === 0) return this.add(bytes, start, length, hash, slot);
      if (this.hashes[code] === hash && this.lengths[code] === length && this.sameBytes(code, bytes, start, length)) return code;
    }
  }

  /** The code of a session id given as text. */
  internText(text: string): number {
    const bytes = Buffer.from(text, 'utf8');
    return this.intern(bytes, 0, bytes.length);
  }

  /** The names of the codes handed out so far; later codes do not change it. */
  names(): SessionNames {
    return { count: this.next, arena: this.arena, offsets: this.offsets, lengths: this.lengths };
  }

  private sameBytes(code: number, bytes: Uint8Array, start: number, length: number): boolean {
    const arena = this.arena;
    const at = this.offsets[code];
    for (let i = 0; i < length; i++) if (arena[at + i] !== bytes[start + i]) return false;
    return true;
  }

  private add(bytes: Uint8Array, start: number, length: number, hash: number, slot: number): number {
    const code = this.next++;
    if (code >= this.offsets.length) {
      const capacity = this.offsets.length * 2;
      this.offsets = grownCopy(this.offsets, sharedFloat64(capacity));
      this.lengths = grownCopy(this.lengths, sharedInt32(capacity));
      this.hashes = grownCopy(this.hashes, new Int32Array(capacity));
    }
    if (this.used + length > this.arena.length) this.arena = grownCopy(this.arena.subarray(0, this.used), sharedUint8(Math.max(this.arena.length * 2, this.used + length)));
    this.arena.set(bytes.subarray(start, start + length), this.used);
    this.offsets[code] = this.used;
    this.lengths[code] = length;
    this.hashes[code] = hash;
    this.used += length;
    this.slots[slot] = code;
    if (this.next * 2 > this.slots.length) this.rehash();
    return code;
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let code = 1; code < this.next; code++) {
      let slot = this.hashes[code] & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = code;
    }
    this.slots = slots;
  }
}

function grownCopy<T extends Uint8Array | Int32Array | Float64Array>(old: T, next: T): T {
  next.set(old);
  return next;
}
