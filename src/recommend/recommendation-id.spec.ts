import { randomBytes } from 'node:crypto';
import { newListId, parseRecommendationId, RecommendationSigner, Recommender } from './recommendation-id';

describe('recommendation ids', () => {
  const signer = new RecommendationSigner(Buffer.from('a test secret of at least 32 bytes!!'));
  const items = [
    { source: Recommender.ITEM_KNN, modelVersionId: 12, itemId: 345 },
    { source: Recommender.CATALOG, modelVersionId: null, itemId: 9 },
    { source: Recommender.MATRIX_FACTORIZATION, modelVersionId: 2147483647, itemId: 2147483647 },
  ];

  it('describe the recommender, version, item and list, and verify for the list’s user', () => {
    const listId = newListId();
    expect(listId).toMatch(/^[A-Za-z0-9_-]{11}$/);
    const ids = signer.signList(listId, 'alice', items);
    expect(ids[0]).toMatch(new RegExp(`^r2\\.k\\.12\\.345\\.${listId}\\.[A-Za-z0-9_-]{12}$`));
    expect(ids[1]).toMatch(new RegExp(`^r2\\.c\\.0\\.9\\.${listId}\\.`));
    expect(signer.verify(ids[0], 'alice')).toEqual({ source: Recommender.ITEM_KNN, modelVersionId: 12, itemId: 345, listId });
    expect(signer.verify(ids[1], 'alice')).toEqual({ source: Recommender.CATALOG, modelVersionId: null, itemId: 9, listId });
    expect(signer.verify(ids[2], 'alice')).toEqual({ ...items[2], listId });
  });

  it('name REENGAGEMENT (no model version) and still verify ids issued before it existed', () => {
    const listId = newListId();
    const [id] = signer.signList(listId, 'alice', [{ source: Recommender.REENGAGEMENT, modelVersionId: null, itemId: 77 }]);
    expect(id).toMatch(new RegExp(`^r2\\.e\\.0\\.77\\.${listId}\\.[A-Za-z0-9_-]{12}$`));
    expect(signer.verify(id, 'alice')).toEqual({ source: Recommender.REENGAGEMENT, modelVersionId: null, itemId: 77, listId });
    expect(signer.verify(id.replace('r2.e.', 'r2.c.'), 'alice')).toBeNull();
    // Signed by this file as it was before REENGAGEMENT (same secret, list AAAAAAAAAAA, user alice).
    expect(signer.verify('r2.k.12.345.AAAAAAAAAAA.0wRWpnXv4Ssi', 'alice')).toEqual({ source: Recommender.ITEM_KNN, modelVersionId: 12, itemId: 345, listId: 'AAAAAAAAAAA' });
    expect(signer.verify('r2.c.0.9.AAAAAAAAAAA.bX39J5Yk-iCf', 'alice')).toEqual({ source: Recommender.CATALOG, modelVersionId: null, itemId: 9, listId: 'AAAAAAAAAAA' });
  });

  it('name SESSION_KNN with its own code, and still verify ids issued before it existed', () => {
    const listId = newListId();
    const [id] = signer.signList(listId, 'alice', [{ source: Recommender.SESSION_KNN, modelVersionId: 7, itemId: 42 }]);
    expect(id).toMatch(new RegExp(`^r2\\.s\\.7\\.42\\.${listId}\\.`));
    expect(signer.verify(id, 'alice')).toEqual({ source: Recommender.SESSION_KNN, modelVersionId: 7, itemId: 42, listId });
    expect(signer.verify(id.replace('r2.s.', 'r2.g.'), 'alice')).toBeNull();
    // Signed with this secret by the code before SESSION_KNN was added (commit e0b9627).
    expect(signer.verify('r2.g.7.42.AAAAAAAAAAA.3nc8QXSPjL5l', 'alice')).toEqual({ source: Recommender.SESSION_GRU, modelVersionId: 7, itemId: 42, listId: 'AAAAAAAAAAA' });
    expect(signer.verify('r2.p.3.5.AAAAAAAAAAA.-UdJmuEsmS0t', 'alice')).toEqual({ source: Recommender.POPULARITY, modelVersionId: 3, itemId: 5, listId: 'AAAAAAAAAAA' });
  });

  it('refuse another user, an altered part, another secret and a forged tag', () => {
    const listId = newListId();
    const [id] = signer.signList(listId, 'alice', items);
    expect(signer.verify(id, 'bob')).toBeNull();
    expect(signer.verify(id, 'alice ')).toBeNull();
    expect(signer.verify(id.replace('.345.', '.346.'), 'alice')).toBeNull();
    expect(signer.verify(id.replace('r2.k.12.', 'r2.k.13.'), 'alice')).toBeNull();
    expect(signer.verify(id.replace('r2.k.', 'r2.m.'), 'alice')).toBeNull();
    expect(signer.verify(id.replace(listId, newListId()), 'alice')).toBeNull();
    expect(new RecommendationSigner(randomBytes(32)).verify(id, 'alice')).toBeNull();
    // Every character of the tag counts (72 bits, 12 characters, no spare bits): no other spelling passes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let position = id.length - 12; position < id.length; position++) {
      for (const flip of [1, 2, 32]) {
        const changed = alphabet[alphabet.indexOf(id[position]) ^ flip];
        expect(signer.verify(id.slice(0, position) + changed + id.slice(position + 1), 'alice')).toBeNull();
      }
    }
  });

  it('let anyone report an item list (no user), but no user list pass as one', () => {
    const listId = newListId();
    const [anonymous] = signer.signList(listId, null, items);
    expect(signer.verify(anonymous, 'alice')).not.toBeNull();
    expect(signer.verify(anonymous, 'bob')).not.toBeNull();
    const [owned] = signer.signList(listId, 'alice', items);
    expect(owned).not.toBe(anonymous);
  });

  it('refuse unsigned, malformed and overflowing ids without throwing', () => {
    for (const bad of [
      '',
      'r1.k.12.345.AAAAAAAAAAA',
      'r1.m.1.9999999999.AAAAAAAAAAA',
      'r2.m.1.9999999999.AAAAAAAAAAA.AAAAAAAAAAAA',
      'r2.m.9999999999.1.AAAAAAAAAAA.AAAAAAAAAAAA',
      'r2.m.2147483648.1.AAAAAAAAAAA.AAAAAAAAAAAA',
      'r2.x.1.2.AAAAAAAAAAA.AAAAAAAAAAAA',
      'r2.k.1.2.AAAAAAAAAAA',
      'r2.k.1.2.AAAAAAAAAAA.AAAAAAAAAAA.extra',
      'r2.c.5.2.AAAAAAAAAAA.AAAAAAAAAAAA',
      'r2.e.5.2.AAAAAAAAAAA.AAAAAAAAAAAA',
      'r2.k.0.2.AAAAAAAAAAA.AAAAAAAAAAAA',
    ]) {
      expect(signer.verify(bad, 'alice')).toBeNull();
    }
    expect(parseRecommendationId('r2.m.2147483648.1.AAAAAAAAAAA.AAAAAAAAAAAA')).toBeNull();
  });

  it('gives every list its own id, across refills of the random pool', () => {
    const ids = Array.from({ length: 1500 }, () => newListId());
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{11}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('signs lists longer than its scratch buffer', () => {
    const many = Array.from({ length: 100 }, (_, n) => ({ source: Recommender.POPULARITY, modelVersionId: 3, itemId: n + 1 }));
    const listId = newListId();
    const ids = signer.signList(listId, 'carol', many);
    expect(new Set(ids).size).toBe(100);
    ids.forEach((id, n) => expect(signer.verify(id, 'carol')).toEqual({ ...many[n], listId }));
  });
});
