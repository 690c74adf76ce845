import type { Readable } from 'node:stream';
import { parse as parseCsv } from 'csv-parse/sync';

/** One logical row of a text file: its fields (CSV) or whole text (lines), and the physical line it starts on (1-based). */
export interface TextRow {
  line: number;
  /** The row as it stood in the file, without its line ending. */
  text: string;
  /** CSV fields; for line mode the single element is `text`. */
  fields: string[];
}

/**
 * Splits streamed text into rows. Rows come out in whole arrays per pushed chunk because handing
 * them over one at a time through an async iterator costs more than parsing them.
 *
 * Lines without a quote, nearly every row of a real export, take a plain `split(',')`: csv-parse
 * reads each byte in JavaScript and made imports 10 % slower (docs/benchmarks.md, issue #13). A row
 * with a quote goes to csv-parse, and a quoted field may span lines.
 */
export class TextRowSplitter {
  private pending = '';
  /** Physical lines consumed so far. */
  private linesSeen = 0;
  /** A quoted field left open at the end of a line: the row so far and where it started. */
  private openRow: { text: string; line: number } | null = null;

  constructor(private readonly mode: 'csv' | 'lines') {}

  push(chunk: string, out: TextRow[] = []): TextRow[] {
    let text = this.pending + chunk;
    if (this.linesSeen === 0 && this.openRow === null && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    let start = 0;
    for (;;) {
      const end = text.indexOf('\n', start);
      if (end === -1) break;
      this.takeLine(text.slice(start, end), out);
      start = end + 1;
    }
    this.pending = text.slice(start);
    return out;
  }

  /** Flushes the last line, which real files often leave without a newline. */
  end(out: TextRow[] = []): TextRow[] {
    if (this.pending.length > 0) this.takeLine(this.pending, out);
    this.pending = '';
    if (this.openRow !== null) {
      // An unterminated quote: hand the row over as it is so the format rejects it with its line number.
      out.push({ line: this.openRow.line, text: this.openRow.text, fields: [this.openRow.text] });
      this.openRow = null;
    }
    return out;
  }

  private takeLine(rawLine: string, out: TextRow[]): void {
    this.linesSeen++;
    const line = rawLine.length > 0 && rawLine.charCodeAt(rawLine.length - 1) === 13 ? rawLine.slice(0, -1) : rawLine;
    if (this.openRow !== null) {
      const joined = this.openRow.text + '\n' + line;
      const fields = parseQuotedRow(joined);
      if (fields === null) this.openRow.text = joined;
      else {
        out.push({ line: this.openRow.line, text: joined, fields });
        this.openRow = null;
      }
      return;
    }
    if (line.length === 0) return;
    if (this.mode === 'lines') {
      out.push({ line: this.linesSeen, text: line, fields: [line] });
      return;
    }
    if (line.indexOf('"') === -1) {
      out.push({ line: this.linesSeen, text: line, fields: line.split(',') });
      return;
    }
    const fields = parseQuotedRow(line);
    if (fields === null) this.openRow = { text: line, line: this.linesSeen };
    else out.push({ line: this.linesSeen, text: line, fields });
  }
}

/**
 * csv-parse's reading of one row that contains quotes (RFC 4180: `""` for a quote, separators and
 * line breaks inside quotes); null while a quoted field is still open at the end, so the splitter
 * joins the next line. A stray quote (`"a"b`) is kept as text rather than failing the file.
 */
export function parseQuotedRow(row: string): string[] | null {
  try {
    const [fields] = parseCsv(row, QUOTED_ROW) as string[][];
    return fields ?? [''];
  } catch (error) {
    if ((error as { code?: string }).code === 'CSV_QUOTE_NOT_CLOSED') return null;
    throw error;
  }
}

const QUOTED_ROW = { relax_quotes: true, relax_column_count: true, record_delimiter: '\n' } as const;

/** Reads a text stream as rows, one array per chunk, keeping memory to one chunk plus one row. */
export async function* readTextRows(stream: Readable, mode: 'csv' | 'lines'): AsyncGenerator<TextRow[]> {
  const splitter = new TextRowSplitter(mode);
  stream.setEncoding('utf8');
  for await (const chunk of stream) {
    const rows = splitter.push(chunk as string);
    if (rows.length > 0) yield rows;
  }
  const last = splitter.end();
  if (last.length > 0) yield last;
}
