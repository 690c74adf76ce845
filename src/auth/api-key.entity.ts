import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * admin: everything; analyst: analytics; server: a trusted backend's key (client's rights plus
 * predictions with their explanations); client: the public key shipped inside apps (ingest,
 * recommendations, feedback). docs/privacy.md says why predictions are not a client's.
 */
export type Role = 'admin' | 'analyst' | 'server' | 'client';
export const ROLES: Role[] = ['admin', 'analyst', 'server', 'client'];

@Entity({ name: 'api_keys' })
export class ApiKey {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('text')
  name: string;

  @Column('text')
  role: Role;

  /** SHA-256 of the secret, hex; the secret itself is never stored. */
  @Column('text', { name: 'key_hash' })
  keyHash: string;

  /** The first characters of the secret (at most 6, KEY_PREFIX_LENGTH), so people can tell keys apart. */
  @Column('text', { name: 'key_prefix' })
  keyPrefix: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt: Date | null;

  @Column('timestamptz', { name: 'last_used_at', nullable: true })
  lastUsedAt: Date | null;
}
