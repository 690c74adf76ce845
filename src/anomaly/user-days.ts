/**
 * Detectors score user-days; people are judged by their worst day. A click farm active one night
 * is a bot even if it looked like anyone else on the other days, so a user's score over a range is
 * the maximum over their days in it.
 */

/** Rows of a user-day table: dense user id per row, one user's rows consecutive. */
export interface UserDayRows {
  userIds: ArrayLike<number>;
  rows: number;
}

export interface WorstDays {
  /** Dense user ids, in the table's order. */
  userIds: Int32Array;
  /** Each user's highest day score. */
  scores: Float64Array;
  /** The table row of that day (the earliest when days tie). */
  rows: Int32Array;
}

export function worstDays(table: UserDayRows, scores: ArrayLike<number>): WorstDays {
  const userIds: number[] = [];
  const best: number[] = [];
  const rows: number[] = [];
  for (let r = 0; r < table.rows; r++) {
    const last = userIds.length - 1;
    if (last < 0 || userIds[last] !== table.userIds[r]) {
      userIds.push(table.userIds[r]);
      best.push(scores[r]);
      rows.push(r);
    } else if (scores[r] > best[last]) {
      best[last] = scores[r];
      rows[last] = r;
    }
  }
  return { userIds: Int32Array.from(userIds), scores: Float64Array.from(best), rows: Int32Array.from(rows) };
}

/**
 * Per-row training labels for the supervised detector from per-user admin labels (1 BOT/FRAUD,
 * 0 GENUINE): every day of a GENUINE user is a negative; of a BOT/FRAUD user only the day that
 * looks worst by `ranking` (the unsupervised scores) is a positive, because the admin vouches that
 * the user misbehaved, not on which days. Other rows are −1 (not used).
 */
export function dayLabels(table: UserDayRows, labelsByUser: ReadonlyMap<number, number>, ranking: ArrayLike<number>): Int8Array {
  const labels = new Int8Array(table.rows).fill(-1);
  const worst = worstDays(table, ranking);
  for (let u = 0; u < worst.userIds.length; u++) {
    const label = labelsByUser.get(worst.userIds[u]);
    if (label === 1) labels[worst.rows[u]] = 1;
  }
  for (let r = 0; r < table.rows; r++) if (labelsByUser.get(table.userIds[r]) === 0) labels[r] = 0;
  return labels;
}
