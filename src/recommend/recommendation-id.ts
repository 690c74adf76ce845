import { Cipher, createCipheriv, createHmac, createSecretKey, KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The recommender an item came from; CATALOG is the last resort when no model has anything left.
 * REENGAGEMENT (items the user already touched, reengagement.ts) and CATALOG need no model.
 */
export enum Recommender {
  MATRIX_FACTORIZATION = 'MATRIX_FACTORIZATION',
  ITEM_KNN = 'ITEM_KNN',
  SESSION_GRU = 'SESSION_GRU',
  SESSION_KNN = 'SESSION_KNN',
  POPULARITY = 'POPULARITY',
  CATALOG = 'CATALOG',
  REENGAGEMENT = 'REENGAGEMENT',
}

/** Sources served without a model version: their ids carry version 0. */
const WITHOUT_MODEL: ReadonlySet<Recommender> = new Set([Recommender.CATALOG, Recommender.REENGAGEMENT]);

/** One letter per source in the id; a code once issued keeps its meaning, so ids served before a new source still verify. */
const CODES: Record<Recommender, string> = { MATRIX_FACTORIZATION: 'm', ITEM_KNN: 'k', SESSION_GRU: 'g', SESSION_KNN: 's', POPULARITY: 'p', CATALOG: 'c', REENGAGEMENT: 'e' };
const BY_CODE = new Map(Object.entries(CODES).map(([source, code]) => [code, source as Recommender]));

/** What one recommendation id says about the served item. */
export interface RecommendedItemRef {
  source: Recommender;
  /** model_versions.id, null for CATALOG and REENGAGEMENT. */
  modelVersionId: number | null;
  /** items.id */
  itemId: number;
}

export interface RecommendationRef extends RecommendedItemRef {
  /** The served list it belongs to. */
  listId: string;
}

const LIST_ID_BYTES = 8;
/** Bytes of the tag: 72 bits, exactly 12 base64url characters (no spare bits, so one spelling per tag). */
const TAG_BYTES = 9;
const TAG_CHARS = 12;
/** model_versions.id and items.id are 32-bit serials. */
const MAX_SERIAL = 2_147_483_647;
// One call into the random source per 512 list ids: a call costs far more than the bytes it returns.
let randomPool = Buffer.alloc(0);
let poolOffset = 0;

/** A token naming one served list (8 random bytes, base64url). */
export function newListId(): string {
  if (poolOffset + LIST_ID_BYTES > randomPool.length) {
    randomPool = randomBytes(LIST_ID_BYTES * 512);
    poolOffset = 0;
  }
  poolOffset += LIST_ID_BYTES;
  return randomPool.toString('base64url', poolOffset - LIST_ID_BYTES, poolOffset);
}

/**
 * `r2.<source>.<version>.<item>.<list>.<tag>`: the id still describes itself (serving writes
 * nothing per request), and the tag proves this server issued it to that user. Older unsigned
 * `r1.` ids are not accepted any more.
 */
const PATTERN = /^r2\.([a-z])\.(\d{1,10})\.(\d{1,10})\.([A-Za-z0-9_-]{11})\.([A-Za-z0-9_-]{12})$/;

/** The parts of a recommendation id's text (unverified), or null when it is not shaped like one or its numbers overflow. */
export function parseRecommendationId(id: string): (RecommendationRef & { tag: string }) | null {
  const match = PATTERN.exec(id);
  const source = match ? BY_CODE.get(match[1]) : undefined;
  if (!match || !source) return null;
  const version = Number(match[2]);
  const itemId = Number(match[3]);
  if (version > MAX_SERIAL || itemId < 1 || itemId > MAX_SERIAL) return null;
  const withoutModel = WITHOUT_MODEL.has(source);
  if (withoutModel ? version !== 0 : version < 1) return null;
  return { source, modelVersionId: withoutModel ? null : version, itemId, listId: match[4], tag: match[5] };
}

/**
 * Signs and verifies recommendation ids with a server secret, cheaply enough for the serving path.
 * Per list, one HMAC-SHA256 of (list id, the list's user) under the secret gives a 16-byte mask Δ;
 * per item, the tag is AES-128(Δ ⊕ block) cut to 9 bytes, where the block encodes source, version
 * and item. This is Rogaway's XE construction (a tweakable block cipher; the tweak is the list and
 * its user), so a tag for any other item, version, source, list or user cannot be derived from tags
 * seen. All items of a list go through one AES call with a key made once per process, and all tags
 * through one base64 conversion: a few µs per list (`npm run bench recommendation-ids`).
 */
export class RecommendationSigner {
  private readonly macKey: KeyObject;
  private readonly cipher: Cipher;
  private scratch = { blocks: Buffer.alloc(16 * 32), tags: Buffer.alloc(TAG_BYTES * 32) };

  constructor(secret: Buffer) {
    if (secret.length < 16) throw new Error('The recommendation id secret must have at least 16 bytes.');
    this.macKey = createSecretKey(secret);
    const aesKey = createHmac('sha256', this.macKey).update('funnelcast recommendation ids: AES key').digest().subarray(0, 16);
    // ECB over whole blocks keeps no state between calls, so one cipher serves every list.
    this.cipher = createCipheriv('aes-128-ecb', aesKey, null);
    this.cipher.setAutoPadding(false);
  }

  /** The ids of one served list, in order. `userId` is null for item, session and cart lists (anyone may report those). */
  signList(listId: string, userId: string | null, items: readonly RecommendedItemRef[]): string[] {
    const count = items.length;
    if (count === 0) return [];
    if (this.scratch.blocks.length < 16 * count) this.scratch = { blocks: Buffer.alloc(32 * count), tags: Buffer.alloc(2 * TAG_BYTES * count) };
    const blocks = this.scratch.blocks.subarray(0, 16 * count);
    const mask = this.mask(listId, userId);
    for (let n = 0; n < count; n++) writeMaskedBlock(blocks, 16 * n, items[n], mask);
    const encrypted = this.encrypt(blocks);
    const tags = this.scratch.tags;
    for (let n = 0; n < count; n++) {
      for (let b = 0; b < TAG_BYTES; b++) tags[TAG_BYTES * n + b] = encrypted[16 * n + b];
    }
    const text = tags.toString('base64url', 0, TAG_BYTES * count);
    const ids = new Array<string>(count);
    for (let n = 0; n < count; n++) {
      const item = items[n];
      ids[n] = `r2.${CODES[item.source]}.${item.modelVersionId ?? 0}.${item.itemId}.${listId}.${text.slice(TAG_CHARS * n, TAG_CHARS * (n + 1))}`;
    }
    return ids;
  }

  /**
   * The recommendation an id names when this server issued it to `userId` (or to nobody in
   * particular), else null: unknown shape, overflowing numbers, a forged or altered id, or another
   * user's list.
   */
  verify(id: string, userId: string): RecommendationRef | null {
    const parsed = parseRecommendationId(id);
    if (!parsed) return null;
    const claimed = Buffer.from(parsed.tag, 'latin1');
    for (const owner of [userId, null]) {
      const block = Buffer.alloc(16);
      writeMaskedBlock(block, 0, parsed, this.mask(parsed.listId, owner));
      const tag = Buffer.from(this.encrypt(block).toString('base64url', 0, TAG_BYTES), 'latin1');
      if (tag.length === claimed.length && timingSafeEqual(tag, claimed)) {
        return { source: parsed.source, modelVersionId: parsed.modelVersionId, itemId: parsed.itemId, listId: parsed.listId };
      }
    }
    return null;
  }

  private mask(listId: string, userId: string | null): Buffer {
    // 0x01 before a user id, 0x00 for "no user": a user id can never pose as the anonymous list.
    return createHmac('sha256', this.macKey)
      .update(userId === null ? `r2\u0000${listId}\u0000` : `r2\u0000${listId}\u0001${userId}`)
      .digest();
  }

  private encrypt(blocks: Buffer): Buffer {
    const out = this.cipher.update(blocks);
    if (out.length !== blocks.length) throw new Error('AES-ECB returned a partial block');
    return out;
  }
}

const SOURCE_BYTE: Record<Recommender, number> = { MATRIX_FACTORIZATION: 0x6d, ITEM_KNN: 0x6b, SESSION_GRU: 0x67, SESSION_KNN: 0x73, POPULARITY: 0x70, CATALOG: 0x63, REENGAGEMENT: 0x65 };

/**
 * The item's 16-byte block ('r', format 2, source, version, item, zeros), XORed with the list's
 * mask. Written byte by byte: Buffer.fill and writeUInt32BE cost more than the whole block here.
 */
function writeMaskedBlock(buffer: Uint8Array, offset: number, item: RecommendedItemRef, mask: Uint8Array): void {
  const version = item.modelVersionId ?? 0;
  const itemId = item.itemId;
  buffer[offset] = 0x72 ^ mask[0];
  buffer[offset + 1] = 2 ^ mask[1];
  buffer[offset + 2] = SOURCE_BYTE[item.source] ^ mask[2];
  buffer[offset + 3] = (version >>> 24) ^ mask[3];
  buffer[offset + 4] = ((version >>> 16) & 0xff) ^ mask[4];
  buffer[offset + 5] = ((version >>> 8) & 0xff) ^ mask[5];
  buffer[offset + 6] = (version & 0xff) ^ mask[6];
  buffer[offset + 7] = (itemId >>> 24) ^ mask[7];
  buffer[offset + 8] = ((itemId >>> 16) & 0xff) ^ mask[8];
  buffer[offset + 9] = ((itemId >>> 8) & 0xff) ^ mask[9];
  buffer[offset + 10] = (itemId & 0xff) ^ mask[10];
  for (let b = 11; b < 16; b++) buffer[offset + b] = mask[b];
}
