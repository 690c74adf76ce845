import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { float4ArrayText } from '../db/float4';

/** One user's stored list: dense ids as in `users.id` and `items.id`, best first. */
export interface UserRecommendations {
  userId: number;
  itemIds: ArrayLike<number>;
  scores: ArrayLike<number>;
}

/** Bulk-writes a version's lists into recommendation_scores with COPY (callers hold the transaction). */
export async function copyRecommendationScores(client: PoolClient, modelVersionId: number, lists: Iterable<UserRecommendations>): Promise<number> {
  let rows = 0;
  function* lines(): Generator<string> {
    for (const list of lists) {
      rows++;
      const scores = float4ArrayText(list.scores, `recommendation_scores.scores (user ${list.userId})`);
      yield `${modelVersionId}\t${list.userId}\t{${Array.from(list.itemIds).join(',')}}\t${scores}\n`;
    }
  }
  await pipeline(Readable.from(lines()), client.query(copyFrom('COPY recommendation_scores (model_version_id, user_id, item_ids, scores) FROM STDIN')));
  return rows;
}
