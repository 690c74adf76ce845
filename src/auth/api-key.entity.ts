import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type Role = 'admin' | 'analyst' | 'client';
export const ROLES: Role[] = ['admin', 'analyst', 'client'];

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
