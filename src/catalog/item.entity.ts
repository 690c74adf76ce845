import { Column, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

/** A catalog item. `id` is the dense internal id; `externalId` is the shop's own. */
@Entity({ name: 'items' })
export class Item {
  @PrimaryGeneratedColumn()
  id: number;

  @Column('text', { name: 'external_id', unique: true })
  externalId: string;

  @Column('text', { nullable: true })
  title: string | null;

  @Column('text', { nullable: true })
  category: string | null;

  @Column('text', { nullable: true })
  brand: string | null;

  /** numeric comes back from pg as a string; the transformer keeps it a number in the app. */
  @Column('numeric', {
    precision: 14,
    scale: 2,
    nullable: true,
    transformer: { to: (v: number | null) => v, from: (v: string | null) => (v === null ? null : Number(v)) },
  })
  price: number | null;

  @Column('jsonb', { default: () => `'{}'::jsonb` })
  properties: Record<string, unknown>;

  @Column('boolean', { default: true })
  available: boolean;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
