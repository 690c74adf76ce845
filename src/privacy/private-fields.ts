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
