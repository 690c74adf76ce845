import type { DataSource } from 'typeorm';
import { badInput } from '../graphql/errors';
import { ModelKind } from '../training/model-kind';

/**
 * The recommender kinds whose ACTIVE versions feed the served lists, and so the kinds an admin can
 * switch off for serving (`setModelServing`). Prediction and anomaly kinds are not in it: their
 * ACTIVE version answers their own queries, and activating another version is how to change that.
 */
export const SERVED_RECOMMENDER_KINDS: readonly ModelKind[] = [
  ModelKind.POPULARITY,
  ModelKind.ITEM_KNN,
  ModelKind.MATRIX_FACTORIZATION,
  ModelKind.SESSION_KNN,
  ModelKind.SESSION_GRU,
  // Off: the learned fusion weights are set aside and serving's defaults apply.
  ModelKind.RECOMMENDATION_BLEND,
];

/** One recommender kind's serving switch, with the version it serves when on. */
export interface ModelServingState {
  kind: ModelKind;
  serving: boolean;
  /** When the switch was last set; null while never set (serving by default). */
  changedAt: Date | null;
  activeVersionId: number | null;
}

/**
 * The serving switches (table `model_serving`). Serving reads them with the ACTIVE versions
 * (`ServingModels`), so a switch reaches every API process within about a second, like an activation.
 */
export class ModelServingSwitches {
  constructor(private readonly dataSource: DataSource) {}

  async list(): Promise<ModelServingState[]> {
    const rows: { kind: ModelKind; serving: boolean | null; changed_at: Date | null; active_id: number | null }[] = await this.dataSource.query(
      `SELECT k.kind, s.serving, s.changed_at, v.id AS active_id
       FROM unnest($1::text[]) WITH ORDINALITY AS k(kind, n)
       LEFT JOIN model_serving s ON s.kind = k.kind
       LEFT JOIN model_versions v ON v.kind = k.kind AND v.status = 'ACTIVE'
       ORDER BY k.n`,
      [SERVED_RECOMMENDER_KINDS],
    );
    return rows.map((row) => ({ kind: row.kind, serving: row.serving ?? true, changedAt: row.changed_at, activeVersionId: row.active_id }));
  }

  /**
   * Switches `kind` on or off for serving; its versions, ACTIVE one included, are untouched.
   * Throws BAD_USER_INPUT for a kind that does not feed recommendations.
   */
  async set(kind: ModelKind, serving: boolean): Promise<ModelServingState> {
    if (!SERVED_RECOMMENDER_KINDS.includes(kind)) {
      throw badInput(`${kind} does not feed recommendations; only ${SERVED_RECOMMENDER_KINDS.join(', ')} can be switched off for serving (activate another version to change what ${kind} answers).`);
    }
    await this.dataSource.query(
      `INSERT INTO model_serving (kind, serving) VALUES ($1, $2) ON CONFLICT (kind) DO UPDATE SET serving = EXCLUDED.serving, changed_at = now()`,
      [kind, serving],
    );
    return (await this.list()).find((state) => state.kind === kind)!;
  }
}
