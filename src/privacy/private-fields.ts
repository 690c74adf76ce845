import type { GraphQLResolveInfo, SelectionSetNode } from 'graphql';
import { UserFacingError } from '../graphql/errors';

/**
 * The fields an API key with a privacy budget may ask for ("Type.field"): those whose answers are
 * differentially private (src/privacy/private-analytics.ts), and its own budget. Every other
 * field behind `@Authorized` answers PRIVACY_RESTRICTED to such a key (src/auth/auth-checker.ts):
 * lists of users, times, predictions and anomalies name or single out individuals.
 */
export const PRIVATE_FIELDS: ReadonlySet<string> = new Set(['Query.funnel', 'Query.eventStats', 'Query.privacyBudget']);

/** A question a key with a privacy budget may not ask: its answer would not be differentially private. */
export function privacyRestricted(message: string): UserFacingError {
  return new UserFacingError('PRIVACY_RESTRICTED', message);
}

/**
 * The names of the fields selected directly under the field being resolved (through fragments
 * too), so a private answer can refuse a sub-field that no noise protects (EventStats.flagged)
 * before it spends any budget, rather than after.
 */
export function selectedFieldNames(info: GraphQLResolveInfo): Set<string> {
  const names = new Set<string>();
  const visit = (selectionSet: SelectionSetNode | undefined): void => {
    for (const selection of selectionSet?.selections ?? []) {
      if (selection.kind === 'Field') names.add(selection.name.value);
      else if (selection.kind === 'InlineFragment') visit(selection.selectionSet);
      else visit(info.fragments[selection.name.value]?.selectionSet);
    }
  };
  for (const node of info.fieldNodes) visit(node.selectionSet);
  return names;
}
