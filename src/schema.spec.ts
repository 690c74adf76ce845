import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { printFunnelcastSchema } from './schema';

describe('schema.graphql', () => {
  it('matches the schema the code builds (run `npm run schema` after changing the API)', async () => {
    const committed = readFileSync(resolve(__dirname, '../schema.graphql'), 'utf8');
    expect(committed).toBe(await printFunnelcastSchema());
  });
});
