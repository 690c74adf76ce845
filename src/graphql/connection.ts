import { Field, ObjectType, type ClassType } from 'type-graphql';
import type { CursorCodec } from './cursor';
import { badInput } from './errors';

/**
 * Lists as Relay cursor connections (https://relay.dev/graphql/connections.htm), the one list
 * shape of the API: `edges { cursor node }`, `pageInfo { hasNextPage endCursor … }`, plus
 * `totalCount` on the lists that can count cheaply. Every list pages forward with `first` and
 * `after`, over a keyset order, so rows added or removed between two pages never repeat or skip
 * the rows that stayed; cursors come from one codec (cursor.ts).
 */

@ObjectType({ description: 'Where a page sits in its list. Lists page forward: pass endCursor as `after` to read the next page.' })
export class PageInfo {
  @Field({ description: 'Whether rows follow this page (at the time it was read).' })
  hasNextPage: boolean;

  @Field({
    description:
      'Always false: lists page forward only (first/after), and the Relay specification lets a forward-paged list answer false rather than look back past `after`.',
  })
  hasPreviousPage: boolean;

  @Field(() => String, { nullable: true, description: 'The cursor of the first edge; null when the page is empty.' })
  startCursor: string | null;

  @Field(() => String, { nullable: true, description: 'The cursor of the last edge, to pass as `after` for the next page; null when the page is empty.' })
  endCursor: string | null;
}

export interface Edge<Node> {
  cursor: string;
  node: Node;
}

export interface Connection<Node> {
  edges: Edge<Node>[];
  pageInfo: PageInfo;
}

/**
 * The GraphQL base of a connection of `nodeType` (GraphQL name `nodeName`): declares the
 * `<nodeName>Edge` type and returns an abstract class with `edges` and `pageInfo`, which the list
 * extends and names `<nodeName>Connection`, adding `totalCount` (when cheap) and fields of its own:
 *
 *   @ObjectType('TrainingJobConnection', { description: 'Newest first. No totalCount: …' })
 *   export class TrainingJobConnection extends ConnectionType('TrainingJob', TrainingJobView) {}
 */
export function ConnectionType<Node extends object>(nodeName: string, nodeType: ClassType<Node>) {
  @ObjectType(`${nodeName}Edge`, { description: `One ${nodeName} of a page, with its cursor.` })
  class EdgeType {
    @Field({ description: 'Pass as `after` to read the rows that follow this one.' })
    cursor: string;

    @Field(() => nodeType)
    node: Node;
  }

  @ObjectType()
  abstract class ConnectionBase {
    @Field(() => [EdgeType], { description: 'This page, in list order.' })
    edges: Edge<Node>[];

    @Field(() => PageInfo)
    pageInfo: PageInfo;
  }
  return ConnectionBase;
}

/** Description of a `totalCount` field, with why the list can afford it. */
export function totalCountDescription(why: string): string {
  return `Rows in the whole list (every page), read with this page. ${why}`;
}

/** The default and the largest `first` of a list. */
export interface PageSize {
  default: number;
  max: number;
}

/** Options of a list's `first` argument. */
export function firstArg(size: PageSize) {
  return { defaultValue: size.default, description: `Rows per page, 1 to ${size.max} (default ${size.default}).` };
}

/** Options of every list's `after` argument. */
export const AFTER_ARG = {
  nullable: true,
  description: 'The endCursor of the previous page of this same list; leave it out for the first page. A cursor of another list, or one cut short or edited, gives BAD_USER_INPUT.',
} as const;

/** Throws BAD_USER_INPUT unless `first` is a whole number from 1 to `size.max`. */
export function checkFirst(first: number, size: PageSize): void {
  if (!Number.isInteger(first) || first < 1 || first > size.max) throw badInput(`\`first\` must be a whole number from 1 to ${size.max} (got ${first}).`);
}

/**
 * The connection of one page: `rows` are the list's rows from the cursor on, read with LIMIT
 * first + 1 (the extra row, dropped here, only tells whether a next page exists); `keyOf` gives
 * a row's keyset position and `nodeOf` its node (the same index in the page).
 */
export function connectionOf<Row, Key, Node>(codec: CursorCodec<Key>, rows: readonly Row[], first: number, keyOf: (row: Row) => Key, nodeOf: (row: Row, index: number) => Node): Connection<Node> {
  const page = rows.slice(0, first);
  return connectionOfEdges(
    page.map((row, index) => ({ cursor: codec.encode(keyOf(row)), node: nodeOf(row, index) })),
    rows.length > first,
  );
}

/** The connection of edges already cut to one page; `hasNextPage` as the list found it. */
export function connectionOfEdges<Node>(edges: Edge<Node>[], hasNextPage: boolean): Connection<Node> {
  return {
    edges,
    pageInfo: { hasNextPage, hasPreviousPage: false, startCursor: edges[0]?.cursor ?? null, endCursor: edges[edges.length - 1]?.cursor ?? null },
  };
}
