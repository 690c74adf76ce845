import { createHmac, randomBytes } from 'node:crypto';
import { newListId, RecommendationSigner, Recommender } from '../src/recommend/recommendation-id';

/**
 * `npm run bench recommendation-ids`: what signing costs per served list (one HMAC-SHA256 for the
 * list's key, one AES call over all its items), against unsigned ids and against the obvious peer,
 * one HMAC-SHA256 per item. Best of five rounds, in µs per list.
 */
function microsPerList(lists: number, body: (list: number) => void): number {
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const started = process.hrtime.bigint();
    for (let list = 0; list < lists; list++) body(list);
    best = Math.min(best, Number(process.hrtime.bigint() - started) / lists / 1000);
  }
  return best;
}

export async function run(): Promise<void> {
  const signer = new RecommendationSigner(randomBytes(32));
  const secret = randomBytes(32);
  for (const size of [10, 100]) {
    const items = Array.from({ length: size }, (_, n) => ({ source: Recommender.MATRIX_FACTORIZATION, modelVersionId: 7, itemId: 1000 + n }));
    const unsigned = microsPerList(20_000, () => {
      const listId = newListId();
      items.map((item) => `r1.m.${item.modelVersionId}.${item.itemId}.${listId}`);
    });
    const signed = microsPerList(20_000, (list) => signer.signList(newListId(), `user-${list}`, items));
    const hmacPerItem = microsPerList(2_000, (list) => {
      const listId = newListId();
      items.map((item) => `r2.m.${item.modelVersionId}.${item.itemId}.${listId}.${createHmac('sha256', secret).update(`${listId}|user-${list}|${item.itemId}`).digest().toString('base64url', 0, 8)}`);
    });
    console.log(
      `list of ${size}: unsigned ${unsigned.toFixed(2)} µs, signed ${signed.toFixed(2)} µs (+${(signed - unsigned).toFixed(2)}), ` +
        `HMAC per item ${hmacPerItem.toFixed(2)} µs (${(hmacPerItem / signed).toFixed(1)}× the signed list)`,
    );
  }
  const [id] = signer.signList(newListId(), 'alice', [{ source: Recommender.ITEM_KNN, modelVersionId: 3, itemId: 42 }]);
  const verify = microsPerList(20_000, () => signer.verify(id, 'alice'));
  console.log(`verify one feedback id: ${verify.toFixed(2)} µs`);
}
