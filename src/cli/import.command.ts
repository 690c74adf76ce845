import { intFlag, parseArgs, stringFlag, UsageError } from './args';
import { importProgressBar, withProgress } from './progress';
import { ConfigError, loadConfig } from '../config';
import { openDatabase } from '../db/data-source';
import { isDatabaseUnavailable } from '../db/db-errors';
import {
  DEFAULT_BATCH_SIZE,
  IMPORT_FORMATS,
  ImportFileError,
  importFile,
  importFileSize,
  isImportFormat,
  type ImportSummary,
} from '../events/import/import.service';
import { TIMESTAMP_UNITS, type TimestampUnit } from '../events/event-time';

const USAGE = `Usage: funnelcast import --format <${IMPORT_FORMATS.join('|')}> [--timestamp-unit s|ms] [--batch-size N] FILE

Bulk-loads an event file into the database named by DATABASE_URL, streaming it in batches
(each batch commits on its own; running the same file again adds nothing twice).

Formats:
  taobao          Alibaba Tianchi UserBehavior: user_id,item_id,category_id,behavior_type,timestamp
  rees46          REES46 e-commerce behaviour: event_time,event_type,product_id,…,user_session
  retailrocket    RetailRocket events.csv: timestamp,visitorid,event,itemid,transactionid
  funnelcast-csv  event_id,type,user_id,session_id,item_id,timestamp,properties
  ndjson          one event or {"item": {...}} catalog object per line

Options:
  --format F            the file's format (required)
  --timestamp-unit U    unit of numeric timestamps: s (Unix seconds) or ms (milliseconds); default: the
                        format's own (s for taobao, ms for the others). ISO 8601 text needs none. A file
                        whose first numeric timestamp is implausible in the unit is refused (line and hint).
  --batch-size N        rows per COPY + merge transaction (default ${DEFAULT_BATCH_SIZE.toLocaleString('en-US')})
  --help                show this text

Events follow the API's rules: a timestamp more than a day in the future is rejected, like any
invalid row, with its line number and reason.`;


const count = (n: number): string => n.toLocaleString('en-US');

export function formatSummary(summary: ImportSummary): string {
  const rate = summary.seconds > 0 ? summary.rowsRead / summary.seconds : 0;
  const lines = [
    `rows read     ${count(summary.rowsRead)}`,
    `imported      ${count(summary.imported)}`,
    `duplicates    ${count(summary.duplicates)}`,
    `rejected      ${count(summary.rejected)}`,
  ];
  for (const [code, n] of Object.entries(summary.rejectedByReason).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0))) {
    lines.push(`  ${code.padEnd(20)} ${count(n ?? 0)}`);
  }
  if (summary.catalogRows > 0) lines.push(`catalog rows  ${count(summary.catalogRows)}`);
  lines.push(`items upserted ${count(summary.itemsUpserted)}, users added ${count(summary.usersAdded)}`);
  if (summary.rejectedSamples.length > 0) {
    lines.push('first rejects:');
    for (const sample of summary.rejectedSamples) lines.push(`  line ${sample.line}: ${sample.code} ${sample.message}`);
  }
  lines.push(`${summary.seconds.toFixed(2)} s, ${count(Math.round(rate))} rows/s`);
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  let format: string | undefined;
  let file: string;
  let batchSize: number;
  let timestampUnit: TimestampUnit | undefined;
  try {
    const args = parseArgs(argv, { flags: { format: 'string', 'timestamp-unit': 'string', 'batch-size': 'string' }, positionals: true });
    if (args.flags.help) {
      console.log(USAGE);
      return 0;
    }
    format = stringFlag(args, 'format');
    if (format === undefined) throw new UsageError('--format is required');
    if (!isImportFormat(format)) throw new UsageError(`unknown format "${format}"; use one of ${IMPORT_FORMATS.join(', ')}`);
    if (args.positional.length !== 1) throw new UsageError('give exactly one FILE to import');
    file = args.positional[0];
    batchSize = intFlag(args, 'batch-size', DEFAULT_BATCH_SIZE, 1);
    const unit = stringFlag(args, 'timestamp-unit');
    if (unit !== undefined && !(TIMESTAMP_UNITS as readonly string[]).includes(unit)) {
      throw new UsageError(`--timestamp-unit must be s (Unix seconds) or ms (milliseconds), not "${unit}"`);
    }
    timestampUnit = unit as TimestampUnit | undefined;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`funnelcast import: ${error.message}\n\n${USAGE}`);
    return 1;
  }

  let databaseUrl: string | undefined;
  try {
    databaseUrl = loadConfig().databaseUrl;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 1;
    }
    throw error;
  }
  if (databaseUrl === undefined) {
    console.error('funnelcast import: DATABASE_URL is not set; e.g. DATABASE_URL=postgres://user@localhost:5432/funnelcast');
    return 1;
  }

  try {
    // A missing file should fail before a database connection is even tried.
    const totalBytes = await importFileSize(file);
    const dataSource = await openDatabase(databaseUrl, { poolSize: 2 });
    try {
      const summary = await withProgress(importProgressBar(totalBytes), (onProgress) =>
        importFile(dataSource, format, file, { batchSize, timestampUnit, onProgress }),
      );
      console.log(`Imported ${file} (${format})\n${formatSummary(summary)}`);
      return 0;
    } finally {
      await dataSource.destroy();
    }
  } catch (error) {
    if (error instanceof ImportFileError) {
      console.error(`funnelcast import: ${error.message}`);
      return 1;
    }
    if (isDatabaseUnavailable(error)) {
      console.error(
        `funnelcast import failed: the database is unavailable or closed the connection (${error instanceof Error ? error.message : String(error)}). ` +
          'Batches merged so far are stored; run the same import again to complete it (nothing is stored twice).',
      );
      return 1;
    }
    console.error(`funnelcast import failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
