import { createHash, randomBytes } from 'node:crypto';
import type { DataSource, Repository } from 'typeorm';
import { IsNull } from 'typeorm';
import { badInput, notFound } from '../graphql/errors';
import { ApiKey, Role, ROLES } from './api-key.entity';

export interface Principal {
  keyId: string;
  name: string;
  role: Role;
}

/** How long a verified key is trusted without asking the database again. Revocation on this process is immediate. */
const CACHE_TTL_MS = 10_000;

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** API keys: secrets are shown once at creation and stored only as SHA-256 hashes. */
export class ApiKeyService {
  private readonly repository: Repository<ApiKey>;
  private readonly cache = new Map<string, { principal: Principal | null; expires: number }>();

  constructor(dataSource: DataSource) {
    this.repository = dataSource.getRepository(ApiKey);
  }

  async create(role: Role, name: string, secret?: string): Promise<{ apiKey: ApiKey; secret: string }> {
    if (!ROLES.includes(role)) throw badInput(`role must be one of ${ROLES.join(', ')}`);
    const trimmed = name.trim();
    if (trimmed.length === 0 || trimmed.length > 100) throw badInput('name must be 1–100 characters');
    const plain = secret ?? `fc_${role}_${randomBytes(24).toString('base64url')}`;
    const apiKey = await this.repository.save(
      this.repository.create({ role, name: trimmed, keyHash: hashSecret(plain), keyPrefix: plain.slice(0, 12) }),
    );
    return { apiKey, secret: plain };
  }

  /** Makes sure an admin key with exactly this secret exists (FUNNELCAST_BOOTSTRAP_ADMIN_KEY). */
  async ensureBootstrapAdmin(secret: string): Promise<void> {
    await this.repository.query(
      `INSERT INTO api_keys (name, role, key_hash, key_prefix) VALUES ('bootstrap admin', 'admin', $1, $2)
       ON CONFLICT (key_hash) DO UPDATE SET revoked_at = NULL, role = 'admin'`,
      [hashSecret(secret), secret.slice(0, 12)],
    );
    this.cache.clear();
  }

  async authenticate(secret: string): Promise<Principal | null> {
    const hash = hashSecret(secret);
    const now = Date.now();
    const hit = this.cache.get(hash);
    if (hit && hit.expires > now) return hit.principal;
    const key = await this.repository.findOne({ where: { keyHash: hash, revokedAt: IsNull() } });
    const principal = key ? { keyId: key.id, name: key.name, role: key.role } : null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { principal, expires: now + CACHE_TTL_MS });
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

  async revoke(id: string): Promise<ApiKey> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw badInput(`"${id}" is not an API key id (a UUID)`);
    const key = await this.repository.findOne({ where: { id } });
    if (!key) throw notFound(`No API key with id ${id}`);
    if (!key.revokedAt) {
      key.revokedAt = new Date();
      await this.repository.save(key);
    }
    this.cache.clear();
    return key;
  }
}
