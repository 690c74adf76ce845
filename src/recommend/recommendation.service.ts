import type { DataSource } from 'typeorm';
import { badInput } from '../graphql/errors';

export interface RecommendedItem {
  itemId: string;
  score: number;
}

export interface Recommendations {
  userId: string;
  /** The model version whose list this is; null when no version is active. */
  modelVersionId: number | null;
  items: RecommendedItem[];
}

export const MAX_RECOMMENDATIONS = 100;

/**
 * Serves stored top-K lists. The list is read through the ACTIVE matrix-factorisation version in
 * the same statement, so activating another version switches every answer at once.
 */
export class RecommendationService {
  constructor(private readonly dataSource: DataSource) {}

  async forUser(userId: string, limit: number): Promise<Recommendations> {
    if (!userId.trim()) throw badInput('userId must not be empty');
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RECOMMENDATIONS) throw badInput(`limit must be a whole number from 1 to ${MAX_RECOMMENDATIONS}`);
    const rows: { version_id: number; item_id: string | null; score: number | null }[] = await this.dataSource.query(
      `SELECT v.id AS version_id, i.external_id AS item_id, r.score
       FROM model_versions v
       LEFT JOIN users u ON u.external_id = $1
       LEFT JOIN recommendation_scores s ON s.model_version_id = v.id AND s.user_id = u.id
       LEFT JOIN LATERAL unnest(s.item_ids[1:$2], s.scores[1:$2]) WITH ORDINALITY AS r(item_id, score, rank) ON true
       LEFT JOIN items i ON i.id = r.item_id
       WHERE v.kind = 'MATRIX_FACTORIZATION' AND v.status = 'ACTIVE'
       ORDER BY r.rank`,
      [userId, limit],
    );
    if (rows.length === 0) return { userId, modelVersionId: null, items: [] };
    return {
      userId,
      modelVersionId: rows[0].version_id,
      items: rows.filter((row) => row.item_id !== null).map((row) => ({ itemId: row.item_id!, score: row.score! })),
    };
  }
}
