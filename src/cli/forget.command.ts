import { userInfo } from 'node:os';
import { parseArgs, UsageError } from './args';
import { withDatabase } from './database';
import { config } from '../config';
import { ErasureService } from '../privacy/erasure.service';

const USAGE = `Usage: funnelcast forget USER_ID

Forgets a user (the shop's id): every row that holds it, their rows in stored model artifacts, and,
within FUNNELCAST_ERASURE_POLL_MS (1 s), what every running API process holds in memory. Events sent
for the id during the next FUNNELCAST_ERASURE_TOMBSTONE_DAYS (30) are dropped. Idempotent; each run
is recorded in the audit log (userErasures) without the id. docs/privacy.md.`;

/** `funnelcast forget USER_ID`: erase one user against DATABASE_URL and print what was removed. */
export async function run(argv: string[]): Promise<number> {
  let userId: string | undefined;
  try {
    const args = parseArgs(argv, { flags: {}, positionals: true });
    if (args.flags.help) {
      console.log(USAGE);
      return 0;
    }
    if (args.positional.length !== 1) throw new UsageError('forget needs exactly one USER_ID');
    userId = args.positional[0];
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n${USAGE}`);
      return 1;
    }
    throw error;
  }
  return withDatabase(async (dataSource) => {
    const started = performance.now();
    const record = await new ErasureService(dataSource, { tombstoneDays: config().erasureTombstoneDays }).forgetUser(userId!, `cli (${userInfo().username})`);
    const seconds = (performance.now() - started) / 1000;
    console.log(record.userFound ? `Erased the user in ${seconds.toFixed(3)} s (audit log entry ${record.id}).` : `No user had this id; nothing to remove, the id stays refused (audit log entry ${record.id}).`);
    for (const { table, rows } of record.removed) if (rows > 0) console.log(`  ${table.padEnd(27)} ${rows}`);
    return 0;
  });
}
