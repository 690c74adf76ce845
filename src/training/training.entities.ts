import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import type { ModelKind, ModelVersionStatus, TrainingJobState } from './model-kind';

const bigintAsNumber = { to: (v: number | null) => v, from: (v: string | null) => (v === null ? null : Number(v)) };

/** One trained (or training) model; `artifact` is loaded only where it is needed. */
@Entity({ name: 'model_versions' })
export class ModelVersion {
  @PrimaryGeneratedColumn()
  id: number;

  @Column('text')
  kind: ModelKind;

  @Column('integer')
  version: number;

  @Column('text')
  status: ModelVersionStatus;

  @Column('jsonb')
  params: Record<string, unknown>;

  @Column('jsonb', { nullable: true })
  metrics: Record<string, unknown> | null;

  @Column('text')
  backend: string;

  @Column('timestamptz', { name: 'trained_from', nullable: true })
  trainedFrom: Date | null;

  @Column('timestamptz', { name: 'trained_to' })
  trainedTo: Date;

  @Column('bigint', { name: 'event_count', nullable: true, transformer: bigintAsNumber })
  eventCount: number | null;

  @Column('real', { name: 'training_seconds', nullable: true })
  trainingSeconds: number | null;

  @Column('bytea', { nullable: true, select: false })
  artifact: Buffer | null;

  @Column('uuid', { name: 'training_job_id', nullable: true })
  trainingJobId: string | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'activated_at', nullable: true })
  activatedAt: Date | null;
}

@Entity({ name: 'training_jobs' })
export class TrainingJob {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text', { name: 'request_key' })
  requestKey: string;

  @Column('text')
  kind: ModelKind;

  @Column('jsonb')
  params: Record<string, unknown>;

  @Column('timestamptz', { name: 'data_from', nullable: true })
  dataFrom: Date | null;

  @Column('timestamptz', { name: 'data_to' })
  dataTo: Date;

  @Column('boolean')
  activate: boolean;

  @Column('uuid', { name: 'schedule_id', nullable: true })
  scheduleId: string | null;

  @Column('text')
  state: TrainingJobState;

  @Column('real')
  progress: number;

  @Column('text', { nullable: true })
  message: string | null;

  @Column('integer')
  attempts: number;

  @Column('text', { nullable: true })
  error: string | null;

  @Column('integer', { name: 'model_version_id', nullable: true })
  modelVersionId: number | null;

  /** Jobs this one starts after (all of them finished, in any state); empty for most jobs. */
  @Column('uuid', { name: 'waits_for', array: true, default: () => `'{}'` })
  waitsFor: string[];

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'started_at', nullable: true })
  startedAt: Date | null;

  @Column('timestamptz', { name: 'finished_at', nullable: true })
  finishedAt: Date | null;
}

@Entity({ name: 'training_schedules' })
export class TrainingSchedule {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text')
  kind: ModelKind;

  @Column('text')
  cron: string;

  @Column('jsonb')
  params: Record<string, unknown>;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;
}
