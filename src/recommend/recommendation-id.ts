import { createCipheriv, createHmac, createSecretKey, KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';

/** The recommender an item came from; CATALOG is the last resort when no model has anything left. */
export enum Recommender {
  MATRIX_FACTORIZATION = 'MATRIX_FACTORIZATION',
  ITEM_KNN = 'ITEM_KNN',
  SESSION_GRU = 'SESSION_GRU',
  POPULARITY = 'POPULARITY',
  CATALOG = 'CATALOG',
}

const CODES: Record<Recommender, string> = { MATRIX_FACTORIZATION: 'm', ITEM_KNN: 'k', SESSION_GRU: 'g', POPULARITY: 'p', CATALOG: 'c' };
const BY_CODE = new Map(Object.entries(CODES).map(([source, code]) => [code, source as Recommender]));

/** What one recommendation id says about the served item. */
export interface RecommendedItemRef {
  source: Recommender;
  /** model_versions.id, null for CATALOG. */
  modelVersionId: number | null;
  /** items.id */
  itemId: number;
}

export interface RecommendationRef extends RecommendedItemRef {
  /** The served list it belongs to. */
  listId: string;
}

const LIST_ID_BYTES = 8;
/** Bytes of the AES output kept as the tag: 64 bits, 11 base64url characters. */
const TAG_BYTES = 8;
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
const PATTERN = /^r2\.([a-z])\.(\d{1,10})\.(\d{1,10})\.([A-Za-z0-9_-]{11})\.([A-Za-z0-9_-]{11})$/;

/** The parts of a recommendation id's text (unverified), or null when it is not shaped like one or its numbers overflow. */
export function parseRecommendationId(id: string): (RecommendationRef & { tag: string }) | null {
  const match = PATTERN.exec(id);
  const source = match ? BY_CODE.get(match[1]) : undefined;
  if (!match || !source) return null;
  const version = Number(match[2]);
  const itemId = Number(match[3]);
  if (version > MAX_SERIAL || itemId < 1 || itemId > MAX_SERIAL) return null;
  if (source === Recommender.CATALOG ? version !== 0 : version < 1) return null;
  return { source, modelVersionId: source === Recommender.CATALOG ? null : version, itemId, listId: match[4], tag: match[5] };
}

/**
 * Signs and verifies recommendation ids with a server secret, cheaply enough for the serving path:
 * per list one HMAC-SHA256 (secret; list id and the list's user) gives the list's key, and one
 * AES-128 call over all items encrypts a 16-byte block per item (source, version, item) — a block
 * cipher on single fixed-size blocks is a pseudorandom function, so the first 8 bytes are that
 * item's tag. Changing the item, version, source, list or user breaks the tag.
 */
export class RecommendationSigner {
  private readonly key: KeyObject;
  private readonly blocks = { buffer: Buffer.alloc(16 * 16) };

  constructor(secret: Buffer) {
    if (secret.length < 16) throw new Error('The recommendation id secret must have at least 16 bytes.');
    this.key = createSecretKey(secret);
  }

  /** The ids of one served list, in order. `userId` is null for item, session and cart lists (anyone may report those). */
  signList(listId: string, userId: string | null, items: readonly RecommendedItemRef[]): string[] {
    if (items.length === 0) return [];
    const size = 16 * items.length;
    if (this.blocks.buffer.length < size) this.blocks.buffer = Buffer.alloc(Math.max(size, 2 * this.blocks.buffer.length));
    const blocks = this.blocks.buffer.subarray(0, size);
    for (let n = 0; n < items.length; n++) writeBlock(blocks, 16 * n, items[n]);
    const tags = this.listCipher(listId, userId).update(blocks);
    const ids = new Array<string>(items.length);
    for (let n = 0; n < items.length; n++) {
      const item = items[n];
      ids[n] = `r2.${CODES[item.source]}.${item.modelVersionId ?? 0}.${item.itemId}.${listId}.${tags.toString('base64url', 16 * n, 16 * n + TAG_BYTES)}`;
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
    const block = Buffer.alloc(16);
    writeBlock(block, 0, parsed);
    // Compared as text: base64url's last character has spare bits, and two spellings of one tag
    // would make two distinct ids (two clicks) out of one issued recommendation.
    const claimed = Buffer.from(parsed.tag, 'latin1');
    for (const owner of [userId, null]) {
      const tag = Buffer.from(this.listCipher(parsed.listId, owner).update(block).toString('base64url', 0, TAG_BYTES), 'latin1');
      if (tag.length === claimed.length && timingSafeEqual(tag, claimed)) return { source: parsed.source, modelVersionId: parsed.modelVersionId, itemId: parsed.itemId, listId: parsed.listId };
    }
    return null;
  }

  private listCipher(listId: string, userId: string | null) {
    // 0x01 before a user id, 0x00 for "no user": a user id can never pose as the anonymous list.
    const listKey = createHmac('sha256', this.key)
      .update(userId === null ? `r2\u0000${listId}\u0000` : `r2\u0000${listId}\u0001${userId}`)
      .digest()
      .subarray(0, 16);
    const cipher = createCipheriv('aes-128-ecb', listKey, null);
    cipher.setAutoPadding(false);
    return cipher;
  }
}

function writeBlock(buffer: Buffer, offset: number, item: RecommendedItemRef): void {
  buffer.fill(0, offset, offset + 16);
  buffer[offset] = 0x72; // 'r': format 2 blocks
  buffer[offset + 1] = 2;
  buffer[offset + 2] = CODES[item.source].charCodeAt(0);
  buffer.writeUInt32BE(item.modelVersionId ?? 0, offset + 3);
  buffer.writeUInt32BE(item.itemId, offset + 7);
}
