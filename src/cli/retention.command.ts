import { userInfo } from 'node:os';
import { parseArgs, UsageError } from './args';
import { withDatabase } from './database';
import { config } from '../config';
import { RetentionService } from '../privacy/retention.service';

const USAGE = `Usage: funnelcast retention [--dry-run]

Removes events older than FUNNELCAST_RETENTION_DAYS, by whole UTC months (each month's partition of
the events table is detached and dropped, never deleted row by row), and recommendation feedback older
than FUNNELCAST_FEEDBACK_RETENTION_DAYS (default: FUNNELCAST_RETENTION_DAYS). Running API processes
reload their funnel mirrors within FUNNELCAST_ERASURE_POLL_MS. The worker runs the same every hour.

  --dry-run   list what would be removed; change nothing

docs/privacy.md, "Retention".`;

/** `funnelcast retention [--dry-run]`: one retention run against DATABASE_URL; prints what went. */
export async function run(argv: string[]): Promise<number> {
  let dryRun = false;
  try {
    const args = parseArgs(argv, { flags: { 'dry-run': 'boolean' } });
    if (args.flags.help) {
      console.log(USAGE);
      return 0;
    }
    dryRun = args.flags['dry-run'] === true;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n${USAGE}`);
      return 1;
    }
    throw error;
  }
  const settings = config();
  if (settings.retentionDays === undefined && settings.feedbackRetentionDays === undefined) {
    console.error('Retention is off: set FUNNELCAST_RETENTION_DAYS (and optionally FUNNELCAST_FEEDBACK_RETENTION_DAYS) to the days to keep.');
    return 1;
  }
  return withDatabase(async (dataSource) => {
    const result = await new RetentionService(dataSource, { eventDays: settings.retentionDays, feedbackDays: settings.feedbackRetentionDays }).run({
      dryRun,
      requestedBy: `cli (${userInfo().username})`,
    });
    if (result.skipped) {
      console.log('Another retention run is in progress; nothing done.');
      return 0;
    }
    const verb = dryRun ? 'would remove' : 'removed';
    if (result.eventCutoff) console.log(`Events before ${result.eventCutoff.toISOString()}: ${verb} ${result.months.length} month(s).`);
    for (const m of result.months) console.log(`  ${m.partition.padEnd(16)} ${m.from.toISOString().slice(0, 7)}  ${m.events} events`);
    if (!dryRun && result.eventCutoff) console.log(`  idempotency keys pruned: ${result.eventIds}; months dropped in ${result.dropSeconds.toFixed(3)} s`);
    if (result.feedbackCutoff) console.log(`Recommendation feedback before ${result.feedbackCutoff.toISOString()}: ${verb} ${result.feedback} row(s).`);
    console.log(`${dryRun ? 'Dry run' : 'Done'} in ${result.seconds.toFixed(3)} s.`);
    return 0;
  });
}
