/**
 * One page of a keyset-ordered list and the size of the whole list, in one statement, for lists
 * whose page query computes every row anyway (a ranking over computed scores, an unindexed sort):
 * counting them then costs next to nothing, where a second statement would compute them twice.
 *
 * `list` names a CTE (or table) of the query the caller writes before this text; `after` is the
 * keyset condition (rows strictly past the cursor, or every row for the first page), `orderBy`
 * the list's order over `list`'s column names and `limit` the row limit (first + 1). Each row
 * carries `total_count`; an empty page comes back as one row of nulls besides it (`countedPage`).
 */
export function countedPageSql(list: string, after: string, orderBy: string, limit: string): string {
  return `SELECT c.total_count, p.*
    FROM (SELECT count(*)::int AS total_count FROM ${list}) c
    LEFT JOIN LATERAL (SELECT * FROM ${list} WHERE ${after} ORDER BY ${orderBy} LIMIT ${limit}) p ON true
    ORDER BY ${orderBy}`;
}

/** The page rows and the list's size from a `countedPageSql` answer; `keyColumn` is a column never null in a real row. */
export function countedPage<Row extends { total_count: number }>(rows: Row[], keyColumn: keyof Row): { rows: Row[]; totalCount: number } {
  return { rows: rows.filter((row) => row[keyColumn] !== null), totalCount: rows[0]?.total_count ?? 0 };
}
