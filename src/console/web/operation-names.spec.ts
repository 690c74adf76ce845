import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Every GraphQL document the console sends is a named operation (`query ConsoleFunnel(…) { … }`),
 * so metrics and request logs tell its requests apart instead of counting them all as `anonymous`
 * (docs/operations.md, Operation names). Read from the sources, since the pages need a browser.
 */
function consoleSources(folder = __dirname): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return consoleSources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

/** String literals that open a GraphQL document: `'{ field`, `'query…{`, `` `mutation…{ ``. */
const DOCUMENT = /['`]((?:query|mutation|subscription)\b[^'`{]*\{|\{\s*[a-z]\w*[\s({])/g;

describe('console GraphQL documents', () => {
  const documents = consoleSources().flatMap((path) => [...readFileSync(path, 'utf8').matchAll(DOCUMENT)].map((match) => ({ path, head: match[1] })));

  it('are found in the sources', () => {
    expect(documents.length).toBeGreaterThanOrEqual(25);
  });

  it('are all operations named Console…', () => {
    const unnamed = documents.filter(({ head }) => !/^(query|mutation) Console[A-Z]\w*\s*[({]/.test(head));
    expect(unnamed).toEqual([]);
  });
});
