import type { DataSource } from 'typeorm';
import { badInput, notFound, UserFacingError } from '../graphql/errors';
import { checkApiKeyId } from '../auth/api-key.service';

/** Epsilon one query spends when the caller names none. */
export const DEFAULT_QUERY_EPSILON = 0.1;
/** Bounds on one query's epsilon: below 0.01 an answer is noise; above 10 it is barely private. */
export const MIN_QUERY_EPSILON = 0.01;
export const MAX_QUERY_EPSILON = 10;
/** The `epsilon` argument of the fields that answer keys with a budget. */
export const EPSILON_ARG = {
  nullable: true,
  description: `Keys with a privacy budget only: the privacy loss this answer spends (${MIN_QUERY_EPSILON}–${MAX_QUERY_EPSILON}, default ${DEFAULT_QUERY_EPSILON}; smaller is noisier). Other keys must leave it out.`,
} as const;
/** BAD_USER_INPUT for an epsilon sent by a key without a privacy budget. */
export const exactKeyEpsilon = (): UserFacingError => badInput('epsilon is only for keys with a privacy budget; this key gets exact answers, so leave it out.');
/** Bounds on a key's whole budget. */
export const MAX_BUDGET_EPSILON = 1000;

/** A key's privacy budget: total epsilon, spent so far (basic composition: the sum), and what is left. */
export interface PrivacyBudgetState {
  keyId: string;
  epsilon: number;
  spent: number;
  remaining: number;
  /** Noisy answers given since the budget was last set. */
  queries: number;
  /** When an admin last set (and so reset) the budget. */
  resetAt: Date;
}

interface BudgetRow {
  key_id: string;
  epsilon: string;
  spent: string;
  queries: number;
  reset_at: Date;
}

/** Epsilons are kept to 6 decimals, as the `numeric(14, 6)` columns hold them. */
const MICRO = 1_000_000;
const toMicros = (epsilon: number): number => Math.round(epsilon * MICRO);
const fromMicros = (micros: number): number => micros / MICRO;

function stateOf(row: BudgetRow): PrivacyBudgetState {
  const epsilon = toMicros(Number(row.epsilon));
  const spent = toMicros(Number(row.spent));
  return { keyId: row.key_id, epsilon: fromMicros(epsilon), spent: fromMicros(spent), remaining: fromMicros(epsilon - spent), queries: row.queries, resetAt: row.reset_at };
}

/**
 * Privacy budgets per API key, in PostgreSQL (`privacy_budgets`, migration 1765610000000). A key
 * with a budget gets differentially private answers (src/privacy/private-analytics.ts); each
 * answer spends its epsilon, and the spends add up (basic sequential composition: k answers at
 * ε₁…ε_k are (Σεᵢ)-differentially private together). A spend is one conditional UPDATE, which
 * PostgreSQL applies under the row's lock and re-checks after waiting for a concurrent one, so
 * concurrent queries never spend past the budget.
 */
export class PrivacyBudgetService {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Sets a key's budget to `epsilon` with nothing spent (a reset), or removes it (`null`: the key
   * gets exact answers again). NOT_FOUND for an unknown or revoked key; BAD_USER_INPUT for an
   * epsilon outside (0, 1000].
   */
  async set(keyId: string, epsilon: number | null): Promise<PrivacyBudgetState | null> {
    checkApiKeyId(keyId);
    const [key]: { role: string }[] = await this.dataSource.query(`SELECT role FROM api_keys WHERE id = $1 AND revoked_at IS NULL`, [keyId]);
    if (!key) throw notFound(`No active API key with id ${keyId}`);
    if (epsilon === null) {
      await this.dataSource.query(`DELETE FROM privacy_budgets WHERE key_id = $1`, [keyId]);
      return null;
    }
    checkBudget(epsilon);
    if (key.role !== 'analyst') throw badInput(`Only analyst keys take a privacy budget; this key has the ${key.role} role.`);
    const [row]: BudgetRow[] = await this.dataSource.query(
      `INSERT INTO privacy_budgets (key_id, epsilon) VALUES ($1, $2)
       ON CONFLICT (key_id) DO UPDATE SET epsilon = EXCLUDED.epsilon, spent = 0, queries = 0, reset_at = now()
       RETURNING key_id, epsilon, spent, queries, reset_at`,
      [keyId, fromMicros(toMicros(epsilon))],
    );
    return stateOf(row);
  }

  /** The key's budget, or null when it has none (its answers are exact). */
  async state(keyId: string): Promise<PrivacyBudgetState | null> {
    const [row]: BudgetRow[] = await this.dataSource.query(
      `SELECT key_id, epsilon, spent, queries, reset_at FROM privacy_budgets WHERE key_id = $1`,
      [keyId],
    );
    return row ? stateOf(row) : null;
  }

  /** Whether the key has a budget (so every answer to it must be private). */
  async hasBudget(keyId: string): Promise<boolean> {
    return (await this.state(keyId)) !== null;
  }

  /**
   * Refuses early, before any work, when `epsilon` is more than is left (PRIVACY_BUDGET_EXHAUSTED).
   * Only a hint: `spend` is what guarantees the budget.
   */
  async checkAvailable(keyId: string, epsilon: number): Promise<void> {
    const state = await this.state(keyId);
    if (!state) throw budgetRemoved();
    if (toMicros(state.remaining) < toMicros(epsilon)) throw exhausted(state, epsilon);
  }

  /**
   * Spends `epsilon` of the key's budget atomically and returns what is left, or throws
   * PRIVACY_BUDGET_EXHAUSTED (nothing spent) when less than `epsilon` is left.
   */
  async spend(keyId: string, epsilon: number): Promise<PrivacyBudgetState> {
    const amount = fromMicros(toMicros(epsilon));
    // TypeORM answers an UPDATE with [rows, affected].
    const [updated]: [BudgetRow[], number] = await this.dataSource.query(
      `UPDATE privacy_budgets SET spent = spent + $2, queries = queries + 1
       WHERE key_id = $1 AND spent + $2 <= epsilon
       RETURNING key_id, epsilon, spent, queries, reset_at`,
      [keyId, amount],
    );
    const row = updated[0];
    if (row) return stateOf(row);
    const state = await this.state(keyId);
    if (!state) throw budgetRemoved();
    throw exhausted(state, amount);
  }
}

/**
 * The epsilon one query spends: `requested`, or DEFAULT_QUERY_EPSILON (0.1) when absent, rounded
 * to 6 decimals. BAD_USER_INPUT outside [0.01, 10].
 */
export function queryEpsilon(requested: number | null | undefined): number {
  const epsilon = requested ?? DEFAULT_QUERY_EPSILON;
  if (!Number.isFinite(epsilon) || epsilon < MIN_QUERY_EPSILON || epsilon > MAX_QUERY_EPSILON) {
    throw badInput(`epsilon must be from ${MIN_QUERY_EPSILON} to ${MAX_QUERY_EPSILON} (smaller: noisier and cheaper); got ${epsilon}.`);
  }
  return fromMicros(toMicros(epsilon));
}

/** A key's budget was removed between its authentication and its query (at most AUTH_CACHE_TTL_MS). */
function budgetRemoved(): UserFacingError {
  return new UserFacingError('PRIVACY_RESTRICTED', 'This key\'s privacy budget was removed a moment ago; send the query again for an exact answer.');
}

/** BAD_USER_INPUT unless `epsilon` is a valid whole budget (0.01–1000). */
export function checkBudget(epsilon: number): void {
  if (!Number.isFinite(epsilon) || epsilon < MIN_QUERY_EPSILON || epsilon > MAX_BUDGET_EPSILON) {
    throw badInput(`A privacy budget must be from ${MIN_QUERY_EPSILON} to ${MAX_BUDGET_EPSILON} (total epsilon); got ${epsilon}.`);
  }
}

function exhausted(state: PrivacyBudgetState, epsilon: number): UserFacingError {
  return new UserFacingError(
    'PRIVACY_BUDGET_EXHAUSTED',
    `This key's privacy budget has ${state.remaining} of ${state.epsilon} epsilon left, less than the ${epsilon} this query spends. Ask with a smaller epsilon (at least ${MIN_QUERY_EPSILON}), or ask an admin to reset the budget (setPrivacyBudget).`,
    { remaining: state.remaining, budget: state.epsilon, requested: epsilon },
  );
}
