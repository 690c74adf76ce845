/**
 * CSV for the console's exports (RFC 4180 quoting), safe to open in a spreadsheet.
 *
 * The exported values come from events that any client key can send (user and session ids), so a
 * cell may start with `=`, `+`, `-`, `@`, a tab or a carriage return, which Excel, LibreOffice and
 * Google Sheets read as a formula (`=HYPERLINK(…)`, DDE). Such a cell gets a leading `'` (shown as
 * text, not evaluated), as OWASP's CSV injection guidance advises; everything else is unchanged.
 */

/** A cell a spreadsheet would evaluate as a formula. */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV field: null and undefined become empty; a text that starts like a formula gets a leading
 * `'`; a field holding a comma, quote or line break is quoted with inner quotes doubled.
 */
export function csvField(value: unknown): string {
  const raw = value === null || value === undefined ? '' : String(value);
  const text = FORMULA_START.test(raw) ? `'${raw}` : raw;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV line (no line break) from its fields. */
export function csvLine(values: readonly unknown[]): string {
  return values.map(csvField).join(',');
}
