import 'reflect-metadata';
import { createDataSource } from './src/db/data-source';

/**
 * The DataSource for the TypeORM CLI (`npx typeorm migration:run -d dist/ormconfig.js`). The app
 * itself builds its DataSource with the same factory.
 */
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/funnelcast';
export default createDataSource(url);
