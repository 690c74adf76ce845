import { createHash, randomBytes } from 'node:crypto';
import type { DataSource, Repository } from 'typeorm';
import { IsNull } from 'typeorm';
import { badInput, notFound } from '../graphql/errors';
import { isUuid } from '../uuid';
import { ApiKey, Role, ROLES } from './api-key.entity';
import type { KeyRevocations } from './key-revocations';

/**
 * BAD_USER_INPUT unless `keyId` has the shape of an API key id (a UUID, as `apiKeys { id }` lists
 * them): anything else would reach PostgreSQL's uuid cast and fail there instead. Long input is
 * quoted cut to 40 characters.
 */
export function checkApiKeyId(keyId: string): void {
  if (!isUuid(keyId)) {
    const shown = keyId.length > 40 ? `${JSON.stringify(keyId.slice(0, 40)).slice(0, -1)}…"` : JSON.stringify(keyId);
    throw badInput(`keyId ${shown} is not an API key id: send a UUID as apiKeys { id } lists them.`);
  }
}

export interface Principal {
  keyId: string;
  name: string;
  role: Role;
  /** True when the key has a privacy budget: it gets differentially private answers only (docs/privacy.md). */
  privacyBudget?: boolean;
}

/**
 * How long an answer (valid or not) is trusted without asking the database again: at most 1 s, so
 * a revocation reaches every API process within a second even when the pub/sub message announcing
 * it is lost or Redis is down. Revocation on the revoking process is immediate.
 */
export const AUTH_CACHE_TTL_MS = 1000;

/** Characters of a secret kept in `keyPrefix` to tell keys apart; too few to help guess it. */
export const KEY_PREFIX_LENGTH = 6;

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** What start-up did with FUNNELCAST_BOOTSTRAP_ADMIN_KEY. */
export type BootstrapAdminOutcome = 'created' | 'exists' | 'revoked';

/** API keys: secrets are shown once at creation and stored only as SHA-256 hashes. */
export class ApiKeyService {
  private readonly repository: Repository<ApiKey>;
  private readonly cache = new Map<string, { principal: Principal | null; expires: number }>();
  private readonly cacheTtlMs: number;
  private readonly now: () => number;
  /** Counts revocations heard, so a lookup that raced one is not cached. */
  private generation = 0;
  private readonly revocations: KeyRevocations | undefined;
  /** Revocation messages heard from any process (this one included) since start; for operators and tests. */
  revocationMessages = 0;

  /**
   * `revocations`: the channel that tells every API process about a revocation (none: this process
   * only, bounded by the cache lifetime elsewhere). `cacheTtlMs` defaults to AUTH_CACHE_TTL_MS;
   * `now` (milliseconds, Date.now by default) is the cache's clock.
   */
  constructor(dataSource: DataSource, options: { revocations?: KeyRevocations; cacheTtlMs?: number; now?: () => number } = {}) {
    this.repository = dataSource.getRepository(ApiKey);
    this.cacheTtlMs = options.cacheTtlMs ?? AUTH_CACHE_TTL_MS;
    this.now = options.now ?? Date.now;
    this.revocations = options.revocations;
    this.revocations?.onRevoked((keyId) => {
      if (keyId !== null) this.revocationMessages += 1;
      this.forget(keyId);
    });
  }

  async create(role: Role, name: string, secret?: string): Promise<{ apiKey: ApiKey; secret: string }> {
    if (!ROLES.includes(role)) throw badInput(`role must be one of ${ROLES.join(', ')}`);
    const trimmed = name.trim();
    if (trimmed.length === 0 || trimmed.length > 100) throw badInput('name must be 1–100 characters');
    const plain = secret ?? `fc_${role}_${randomBytes(24).toString('base64url')}`;
    const apiKey = await this.repository.save(
      this.repository.create({ role, name: trimmed, keyHash: hashSecret(plain), keyPrefix: plain.slice(0, KEY_PREFIX_LENGTH) }),
    );
    return { apiKey, secret: plain };
  }

  /**
   * Makes sure an admin key with exactly this secret exists (FUNNELCAST_BOOTSTRAP_ADMIN_KEY), unless
   * a key with this secret was revoked: then it stays revoked (a revoked secret must not come back at
   * the next restart) and the answer is 'revoked', for the caller to warn about.
   */
  async ensureBootstrapAdmin(secret: string): Promise<BootstrapAdminOutcome> {
    const hash = hashSecret(secret);
    const inserted: unknown[] = await this.repository.query(
      `INSERT INTO api_keys (name, role, key_hash, key_prefix) VALUES ('bootstrap admin', 'admin', $1, $2)
       ON CONFLICT (key_hash) DO NOTHING RETURNING 1`,
      [hash, secret.slice(0, KEY_PREFIX_LENGTH)],
    );
    this.cache.delete(hash);
    if (inserted.length > 0) return 'created';
    const [existing]: { revoked: boolean }[] = await this.repository.query(
      `SELECT revoked_at IS NOT NULL AS revoked FROM api_keys WHERE key_hash = $1`,
      [hash],
    );
    return existing?.revoked ? 'revoked' : 'exists';
  }

  /** The key's holder, or null for an unknown or revoked secret; answers are cached for at most `cacheTtlMs`. */
  async authenticate(secret: string): Promise<Principal | null> {
    const hash = hashSecret(secret);
    const now = this.now();
    const hit = this.cache.get(hash);
    if (hit && hit.expires > now) return hit.principal;
    const generation = this.generation;
    // One round trip: the key and whether it has a privacy budget (docs/privacy.md).
    const [key]: { id: string; name: string; role: Role; private: boolean }[] = await this.repository.query(
      `SELECT k.id, k.name, k.role, b.key_id IS NOT NULL AS private
       FROM api_keys k LEFT JOIN privacy_budgets b ON b.key_id = k.id
       WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
      [hash],
    );
    const principal: Principal | null = key ? { keyId: key.id, name: key.name, role: key.role, privacyBudget: key.private } : null;
    if (this.cache.size > 10_000) this.cache.clear();
    // A revocation heard while the database answered may have come after that answer: do not keep it.
    if (generation === this.generation) this.cache.set(hash, { principal, expires: now + this.cacheTtlMs });
    if (key) {
      // Bookkeeping only; a failure here must not fail the request.
      void this.repository.update({ id: key.id }, { lastUsedAt: new Date() }).catch(() => undefined);
    }
    return principal;
  }

  list(includeRevoked = false): Promise<ApiKey[]> {
    return this.repository.find({
      where: includeRevoked ? {} : { revokedAt: IsNull() },
      order: { createdAt: 'ASC' },
    });
  }

  /**
   * Revokes a key (idempotent): refused at once by this process, and by every other API process when
   * the announcement reaches it, at the latest when its cached answer expires (1 s).
   * BAD_USER_INPUT for an id that is not a UUID, NOT_FOUND for an unknown one.
   */
  async revoke(id: string): Promise<ApiKey> {
    checkApiKeyId(id);
    const key = await this.repository.findOne({ where: { id } });
    if (!key) throw notFound(`No API key with id ${id}`);
    if (!key.revokedAt) {
      key.revokedAt = new Date();
      await this.repository.save(key);
    }
    this.forget(key.id);
    // Not awaited: a Redis that hangs must not hold up the revocation, which the 1 s cache bounds anyway.
    void this.revocations?.publish(key.id);
    return key;
  }

  /**
   * Tells every API process that a key's standing changed (its privacy budget was set or removed),
   * so each asks the database at its next request: at once here, through the revocation channel
   * elsewhere, within the cache lifetime (1 s) at worst.
   */
  announceChange(keyId: string): void {
    this.forget(keyId);
    void this.revocations?.publish(keyId);
  }

  /** Stops listening for revocations (the Redis connections themselves belong to the app). */
  close(): void {
    this.revocations?.close();
  }

  /** Drops a key's cached answers (all of them for null), so its next request asks the database. */
  private forget(keyId: string | null): void {
    this.generation += 1;
    if (keyId === null) {
      this.cache.clear();
      return;
    }
    for (const [hash, entry] of this.cache) {
      if (entry.principal?.keyId === keyId) this.cache.delete(hash);
    }
  }
}
