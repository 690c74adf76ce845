import type { DataSource } from 'typeorm';

/**
 * Where a user's ids still are: "table.column" for every column of every table in the public
 * schema (information_schema) that holds `external` in its text (jsonb and arrays included; bytea
 * by its bytes) or, for integer columns named like a user id (and `users.id`), equals `dense`.
 */
export async function tracesOf(db: DataSource, external: string, dense: number | null = null): Promise<string[]> {
  const columns: { table_name: string; column_name: string; data_type: string }[] = await db.query(
    `SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
     JOIN information_schema.tables t USING (table_schema, table_name)
     WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' ORDER BY 1, 2`,
  );
  const found: string[] = [];
  for (const { table_name: table, column_name: column, data_type: type } of columns) {
    const name = `"${table}"."${column}"`;
    const textual = type === 'bytea' ? `position(convert_to($1, 'UTF8') in ${name}) > 0` : `${name}::text LIKE '%' || $1 || '%'`;
    const userColumn = dense !== null && ((type === 'integer' && /user/.test(column)) || (table === 'users' && column === 'id'));
    const condition = userColumn ? `(${textual} OR ${name} = $2)` : textual;
    const [{ n }]: { n: number }[] = await db.query(`SELECT count(*)::int AS n FROM "${table}" WHERE ${condition}`, userColumn ? [external, dense] : [external]);
    if (n > 0) found.push(`${table}.${column}`);
  }
  return found;
}
