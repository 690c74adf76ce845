import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { DataSource } from 'typeorm';
import { config } from '../../config';
import { withPgClient } from '../../db/data-source';
import { readTextRows, type TextRow } from './csv-reader';
import { FORMAT_READERS, formatOfHeader, formatThatReads, type ReadOptions } from './import-formats';
import {
  IMPORT_FORMATS,
  ImportFileError,
  type ImportFormat,
  type ImportOptions,
  type ImportProgress,
  type ImportRecord,
  type ImportSummary,
  type RejectCode,
  type RejectedRow,
} from './import.types';
import { eventProblem, itemProblem, priceProblem, serialiseProperties, type RecordProblem } from '../event-checks';
import { normaliseEventType } from '../event.types';
import { TIMESTAMP_UNITS } from '../event-time';
import { createStaging, dropStaging, StagingBatch } from './staging-batch';

export * from './import.types';

export const DEFAULT_BATCH_SIZE = 100_000;
const SAMPLE_REJECTS = 10;
/** Records from a plain iterable are grouped this many at a time, to keep per-record overhead off the hot path. */
const RECORDS_PER_CHUNK = 2_000;

interface ImportCounters {
  rowsRead: number;
  imported: number;
  duplicates: number;
  rejected: number;
  catalogRows: number;
  itemsUpserted: number;
  usersAdded: number;
  rejectedByReason: Partial<Record<RejectCode, number>>;
  rejectedSamples: RejectedRow[];
}

function factsProblem(category: unknown, brand: unknown, price: number | null | undefined): RecordProblem | null {
  for (const [name, value] of [['category', category], ['brand', brand]] as const) {
    if (value !== null && value !== undefined && (typeof value !== 'string' || value.includes('\0'))) {
      return { code: 'MALFORMED_ROW', message: `${name} must be text without NUL characters` };
    }
  }
  return priceProblem(price);
}

/**
 * The import loop shared by files and code: checks each record, stages it, and merges a batch at a
 * time. While one batch is merging in PostgreSQL the next is already being read and encoded, so
 * parsing and the database work side by side; at most two batches are held in memory.
 */
async function importChunks(
  dataSource: DataSource,
  chunks: AsyncIterable<ImportRecord[]> | Iterable<ImportRecord[]>,
  options: ImportOptions,
  bytes?: () => { bytesRead: number; totalBytes: number },
): Promise<ImportSummary> {
  const started = process.hrtime.bigint();
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive whole number (got ${batchSize})`);
  const maxPropertiesBytes = options.maxPropertiesBytes ?? config().maxEventPropertiesBytes;
  const now = options.now ?? Date.now();
  const counters: ImportCounters = {
    rowsRead: 0,
    imported: 0,
    duplicates: 0,
    rejected: 0,
    catalogRows: 0,
    itemsUpserted: 0,
    usersAdded: 0,
    rejectedByReason: {},
    rejectedSamples: [],
  };

  const reportProgress = (): void => {
    if (!options.onProgress) return;
    const progress: ImportProgress = {
      rowsRead: counters.rowsRead,
      imported: counters.imported,
      duplicates: counters.duplicates,
      rejected: counters.rejected,
    };
    if (bytes) Object.assign(progress, bytes());
    options.onProgress(progress);
  };

  const rejectRow = (line: number, code: RejectCode, message: string): void => {
    counters.rejected++;
    counters.rejectedByReason[code] = (counters.rejectedByReason[code] ?? 0) + 1;
    if (counters.rejectedSamples.length < SAMPLE_REJECTS) counters.rejectedSamples.push({ line, code, message });
  };

  await withPgClient(dataSource, async (client) => {
    await createStaging(client);
    let merging: Promise<void> | null = null;
    let mergesStarted = 0;
    let unitSettled = false;
    const mergeBatch = (batch: StagingBatch): Promise<void> => {
      mergesStarted++;
      const merge = batch.merge(client).then((result) => {
        counters.imported += result.inserted;
        counters.duplicates += batch.events - result.inserted - result.beyondRetention;
        if (result.beyondRetention > 0) {
          counters.rejected += result.beyondRetention;
          counters.rejectedByReason.BEYOND_RETENTION = (counters.rejectedByReason.BEYOND_RETENTION ?? 0) + result.beyondRetention;
        }
        counters.usersAdded += result.usersAdded;
        counters.itemsUpserted += result.itemsUpserted;
        reportProgress();
      });
      // Awaited before the next merge or at the end; this only keeps Node from calling it unhandled meanwhile.
      merge.catch(() => undefined);
      return merge;
    };

    try {
      let batch = new StagingBatch();
      for await (const records of chunks) {
        for (const record of records) {
          const seq = ++counters.rowsRead;
          if (record.kind === 'reject') {
            if (record.code === 'IMPLAUSIBLE_TIMESTAMP' && !unitSettled) {
              // The first numeric timestamp decides the unit for the file, as the first row decides its format:
              // a whole file in the other unit is one mistake, said once, not a million rejects.
              throw new ImportFileError(
                `line ${record.line}: ${record.message}. The import stopped there; ` +
                  (mergesStarted === 0 ? 'nothing was stored.' : 'the batches before that line are stored, and running it again adds nothing twice.'),
              );
            }
            rejectRow(record.line, record.code, record.message);
            continue;
          }
          const line = record.line ?? seq;
          if (record.kind === 'event') {
            if (record.numericTimestamp) unitSettled = true;
            let event = record.event;
            const type = normaliseEventType(event.type);
            if (type !== event.type) event = { ...event, type };
            const facts = record.itemFacts;
            const problem = eventProblem(event, now) ?? (facts ? factsProblem(facts.category, facts.brand, facts.price) : null);
            if (problem !== null) {
              rejectRow(line, problem.code, problem.message);
              continue;
            }
            const json = serialiseProperties(event.properties, maxPropertiesBytes);
            if (json !== null && typeof json !== 'string') {
              rejectRow(line, json.code, json.message);
              continue;
            }
            batch.addEvent(seq, event, json, facts);
          } else {
            const problem = itemProblem(record.item);
            const json = problem === null ? serialiseProperties(record.item.properties, maxPropertiesBytes, 'item.properties') : null;
            if (problem !== null || (json !== null && typeof json !== 'string')) {
              const why = (problem ?? json) as RecordProblem;
              rejectRow(line, why.code, why.message);
              continue;
            }
            counters.catalogRows++;
            batch.addItem(record.item);
          }
          if (batch.rows >= batchSize) {
            await merging;
            merging = mergeBatch(batch);
            batch = new StagingBatch();
          }
        }
        reportProgress();
      }
      await merging;
      merging = null;
      if (batch.rows > 0) await mergeBatch(batch);
    } finally {
      // A failed merge may still be running on this connection; let it settle before cleaning up.
      await merging?.catch(() => undefined);
      await dropStaging(client).catch(() => undefined);
    }
  });

  return { ...counters, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

async function* chunked(records: AsyncIterable<ImportRecord> | Iterable<ImportRecord>): AsyncGenerator<ImportRecord[]> {
  let chunk: ImportRecord[] = [];
  try {
    for await (const record of records) {
      chunk.push(record);
      if (chunk.length >= RECORDS_PER_CHUNK) {
        yield chunk;
        chunk = [];
      }
    }
  } catch (error) {
    // Records received before the source failed may complete a batch, which then commits as it would have
    // one record at a time; only the open batch is lost.
    if (chunk.length > 0) yield chunk;
    throw error;
  }
  if (chunk.length > 0) yield chunk;
}

/**
 * Imports events and catalog items in the order given. Events whose `eventId` is already stored are
 * counted as duplicates and change nothing; invalid records are rejected with a reason and the
 * rest still imported. Each batch commits on its own, so an interrupted import leaves whole batches
 * and running it again completes it.
 */
export async function importRecords(
  dataSource: DataSource,
  records: AsyncIterable<ImportRecord> | Iterable<ImportRecord>,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  return importChunks(dataSource, chunked(records), options);
}

/**
 * Turns a file's rows into records. The first row decides whether the file is what it claims to be:
 * a header of another format, or a first row that only another format reads, stops the import
 * before anything is written, with the format to use instead.
 */
async function* fileRecords(format: ImportFormat, rows: AsyncIterable<TextRow[]>, readOptions: ReadOptions): AsyncGenerator<ImportRecord[]> {
  const reader = FORMAT_READERS[format];
  let first = true;
  for await (const chunk of rows) {
    const records: ImportRecord[] = new Array(chunk.length);
    let count = 0;
    for (const row of chunk) {
      if (first) {
        first = false;
        const headerOf = formatOfHeader(row.text);
        if (headerOf === reader) continue;
        if (headerOf !== null) {
          throw new ImportFileError(`this looks like a ${headerOf.label} file (header "${row.text}"); try --format ${headerOf.format}`);
        }
        const record = reader.toRecord(row, readOptions);
        if (record.kind === 'reject' || reader.headerRequired) {
          const other = formatThatReads(row, format);
          if (other !== null) throw new ImportFileError(`this looks like a ${other.label} file, not ${reader.label}; try --format ${other.format}`);
        }
        if (reader.headerRequired) {
          throw new ImportFileError(`a ${reader.label} file starts with the header "${reader.header}" (line 1 is "${row.text.slice(0, 120)}")`);
        }
        records[count++] = record;
        continue;
      }
      records[count++] = reader.toRecord(row, readOptions);
    }
    records.length = count;
    yield records;
  }
}

export function isImportFormat(value: string): value is ImportFormat {
  return (IMPORT_FORMATS as readonly string[]).includes(value);
}

/** Size of a file to import; fails with an operator-facing message when it is missing or not a file. */
export async function importFileSize(path: string): Promise<number> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new ImportFileError(`${path} is not a file`);
    return info.size;
  } catch (error) {
    if (error instanceof ImportFileError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new ImportFileError(code === 'ENOENT' ? `no such file: ${path}` : `cannot read ${path}: ${(error as Error).message}`);
  }
}

/** Imports one file in one of the supported formats, streaming it with constant memory. */
export async function importFile(
  dataSource: DataSource,
  format: ImportFormat,
  path: string,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  if (!isImportFormat(format)) throw new ImportFileError(`unknown format "${format}"; use one of ${IMPORT_FORMATS.join(', ')}`);
  if (options.timestampUnit !== undefined && !(TIMESTAMP_UNITS as readonly string[]).includes(options.timestampUnit)) {
    throw new ImportFileError(`unknown timestamp unit "${options.timestampUnit}"; use s (Unix seconds) or ms (milliseconds)`);
  }
  const totalBytes = await importFileSize(path);
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    const rows = readTextRows(stream, FORMAT_READERS[format].mode);
    return await importChunks(dataSource, fileRecords(format, rows, { timestampUnit: options.timestampUnit }), options, () => ({ bytesRead: stream.bytesRead, totalBytes }));
  } finally {
    stream.destroy();
  }
}
