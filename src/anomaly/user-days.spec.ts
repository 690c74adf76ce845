import { dayLabels, worstDays } from './user-days';

// Users 7 (three days), 8 (one day), 9 (two days); rows in (user, day) order.
const table = { userIds: [7, 7, 7, 8, 9, 9], rows: 6 };

describe('user-days', () => {
  it("a user's score is their worst day's; ties keep the earliest day", () => {
    const worst = worstDays(table, [0.1, 0.9, 0.2, 0.3, 0.6, 0.6]);
    expect([...worst.userIds]).toEqual([7, 8, 9]);
    expect([...worst.scores]).toEqual([0.9, 0.3, 0.6]);
    expect([...worst.rows]).toEqual([1, 3, 4]);
  });

  it('a BOT label marks only the worst-looking day positive; a GENUINE label marks every day negative', () => {
    const labels = dayLabels(table, new Map([[7, 1], [9, 0]]), [0.1, 0.9, 0.2, 0.3, 0.6, 0.6]);
    expect([...labels]).toEqual([-1, 1, -1, -1, 0, 0]);
  });
});
