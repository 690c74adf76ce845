import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { float4ArrayText } from '../db/float4';

/** A ranked list of item ids (items.id) with scores, best first. */
export interface RankedItems {
  itemIds: ArrayLike<number>;
  scores: ArrayLike<number>;
}

export type NeighbourRelation = 'similar' | 'bought_together' | 'session_next';

const idArrayText = (values: ArrayLike<number>) => `{${Array.from(values, String).join(',')}}`;
/** COPY text escapes backslash, tab and newline; category names are free text. */
const copyText = (value: string) => value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');

async function copyRows(client: PoolClient, statement: string, lines: Iterable<string>): Promise<void> {
  await pipeline(Readable.from(lines), client.query(copyFrom(statement)));
}

/** Writes a POPULARITY version's lists: category '' is the whole shop. */
export async function copyPopularityScores(client: PoolClient, modelVersionId: number, lists: Iterable<[category: string, list: RankedItems]>): Promise<number> {
  let rows = 0;
  function* lines(): Generator<string> {
    for (const [category, list] of lists) {
      rows++;
      yield `${modelVersionId}\t${copyText(category)}\t${idArrayText(list.itemIds)}\t${float4ArrayText(list.scores, `popularity_scores.scores (category ${JSON.stringify(category)})`)}\n`;
    }
  }
  await copyRows(client, 'COPY popularity_scores (model_version_id, category, item_ids, scores) FROM STDIN', lines());
  return rows;
}

/** Writes neighbour lists (ITEM_KNN's similar and bought-together, SESSION_GRU's next items). */
export async function copyItemNeighbours(
  client: PoolClient,
  modelVersionId: number,
  lists: Iterable<[relation: NeighbourRelation, itemId: number, list: RankedItems]>,
): Promise<number> {
  let rows = 0;
  function* lines(): Generator<string> {
    for (const [relation, itemId, list] of lists) {
      if (list.itemIds.length === 0) continue;
      rows++;
      yield `${modelVersionId}\t${relation}\t${itemId}\t${idArrayText(list.itemIds)}\t${float4ArrayText(list.scores, `item_neighbours.scores (${relation} of item ${itemId})`)}\n`;
    }
  }
  await copyRows(client, 'COPY item_neighbours (model_version_id, relation, item_id, neighbour_ids, scores) FROM STDIN', lines());
  return rows;
}
