import type { CatalogItem, ShopEvent } from '../event.types';
import type { RejectCode } from '../event-checks';
import type { TimestampUnit } from '../event-time';

/**
 * What a source hands the importer, in file order. `line` is where the record came from (files);
 * records from code may leave it out and are then numbered by position.
 */
export type ImportRecord =
  | {
      kind: 'event';
      event: ShopEvent;
      itemFacts?: ItemFacts;
      line?: number;
      /** The file wrote the timestamp as a number (or digits), so the first such row settles the unit. */
      numericTimestamp?: boolean;
    }
  | { kind: 'item'; item: CatalogItem; line?: number }
  | { kind: 'reject'; line: number; code: RejectCode; message: string };

/** Catalog facts an event row carries about its item (REES46 and Taobao rows do). */
export type ItemFacts = Pick<CatalogItem, 'category' | 'brand' | 'price'>;

export type { RejectCode } from '../event-checks';

export interface RejectedRow {
  line: number;
  code: RejectCode;
  message: string;
}

export const IMPORT_FORMATS = ['taobao', 'rees46', 'retailrocket', 'funnelcast-csv', 'ndjson'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export interface ImportProgress {
  /** Data rows read so far, rejected ones included (headers and blank lines are not rows). */
  rowsRead: number;
  /** Events stored by this import. */
  imported: number;
  /** Events whose `eventId` was already stored (or appeared earlier in the same import). */
  duplicates: number;
  rejected: number;
  bytesRead?: number;
  totalBytes?: number;
}

export interface ImportSummary {
  /** rowsRead = imported + duplicates + rejected + catalogRows. */
  rowsRead: number;
  imported: number;
  duplicates: number;
  rejected: number;
  rejectedByReason: Partial<Record<RejectCode, number>>;
  /** The first few rejects, for the operator to look at. */
  rejectedSamples: RejectedRow[];
  /** Catalog records (ndjson `item` lines) read. */
  catalogRows: number;
  /** Items created or changed in the catalog. */
  itemsUpserted: number;
  /** Users first seen in this import. */
  usersAdded: number;
  seconds: number;
}

export interface ImportOptions {
  /** Rows per COPY + merge transaction. */
  batchSize?: number;
  onProgress?: (progress: ImportProgress) => void;
  /** Largest serialised `properties` of one event; defaults to the configured ingest limit. */
  maxPropertiesBytes?: number;
  /**
   * Unit of numeric timestamps in a file: Unix seconds or milliseconds. Defaults to the format's
   * own (seconds for Taobao, milliseconds for the others). When the file's first numeric
   * timestamp is implausible in this unit the import stops there (ImportFileError); later ones
   * are rejected row by row as IMPLAUSIBLE_TIMESTAMP.
   */
  timestampUnit?: TimestampUnit;
  /** "Now" for the future-timestamp rule (tests); defaults to the clock when the import starts. */
  now?: number;
}

/** A failure of the whole import the operator can fix (missing file, wrong format): no stack trace needed. */
export class ImportFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImportFileError';
  }
}
