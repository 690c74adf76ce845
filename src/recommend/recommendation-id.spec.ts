import { decodeRecommendationId, encodeRecommendationId, newListId, Recommender } from './recommendation-id';

describe('recommendation ids', () => {
  it('round-trip the recommender, version, item and list', () => {
    const listId = newListId();
    expect(listId).toMatch(/^[A-Za-z0-9_-]{11}$/);
    const id = encodeRecommendationId({ source: Recommender.ITEM_KNN, modelVersionId: 12, itemId: 345, listId });
    expect(id).toBe(`r1.k.12.345.${listId}`);
    expect(decodeRecommendationId(id)).toEqual({ source: Recommender.ITEM_KNN, modelVersionId: 12, itemId: 345, listId });
    expect(decodeRecommendationId(`r1.c.0.9.${listId}`)).toEqual({ source: Recommender.CATALOG, modelVersionId: null, itemId: 9, listId });
  });

  it('rejects what this server did not issue', () => {
    for (const bad of ['', 'r1.k.12.345', 'r1.x.1.2.AAAAAAAAAAA', 'r2.k.1.2.AAAAAAAAAAA', 'r1.k.1.2.AAAAAAAAAAA.extra']) expect(decodeRecommendationId(bad)).toBeNull();
  });
});
