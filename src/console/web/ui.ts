import type { Chart as ChartClass, ChartConfiguration } from 'chart.js';

/** Chart.js's browser build, loaded by index.html from /console/vendor/chart.js. */
declare const Chart: typeof ChartClass;

type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | ((event: Event) => void) | undefined>;

/** Builds an element: `el('button', { onclick: go, class: 'primary' }, 'Run')`. Strings become text, never HTML. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.replace(/^on/, ''), value);
    else if (name === 'value' && 'value' in element) (element as HTMLInputElement).value = String(value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child);
  }
  return element;
}

export function section(title: string, ...children: Child[]): HTMLElement {
  return el('section', {}, el('h2', {}, title), ...children);
}

/** A labelled input or select. */
export function field(label: string, control: HTMLElement): HTMLLabelElement {
  return el('label', {}, label, control);
}

export function select(name: string, options: readonly string[], value?: string): HTMLSelectElement {
  const control = el('select', { name });
  for (const option of options) control.append(el('option', { value: option, selected: option === value }, option));
  return control;
}

export interface Column<T> {
  title: string;
  value: (row: T) => Child;
  numeric?: boolean;
}

/** A table of rows; `testId` names it for the browser tests. */
export function table<T>(columns: Column<T>[], rows: T[], testId?: string): HTMLTableElement {
  return el(
    'table',
    { 'data-testid': testId },
    el('thead', {}, el('tr', {}, ...columns.map((column) => el('th', { class: column.numeric ? 'num' : undefined }, column.title)))),
    el('tbody', {}, ...rows.map((row) => el('tr', {}, ...columns.map((column) => el('td', { class: column.numeric ? 'num' : undefined }, column.value(row)))))),
  );
}

export function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : `${(value * 100).toFixed(1)} %`;
}

export function number(value: number | null | undefined, digits = 0): string {
  return value === null || value === undefined ? '–' : value.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Seconds as "42 s", "7.5 min", "3.2 h", "2.1 d". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 120) return `${seconds.toFixed(0)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

export function dateTime(iso: string | null | undefined): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : '–';
}

/** A value for an <input type="date">: the UTC day of an instant. */
export function dayInput(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** A box that shows an error's message (or nothing); `show` replaces its text. */
export function errorBox(): HTMLElement & { show(error: unknown): void } {
  const box = el('p', { class: 'error', role: 'alert' });
  return Object.assign(box, {
    show(error: unknown) {
      box.textContent = error ? (error instanceof Error ? error.message : String(error)) : '';
    },
  });
}

/**
 * A canvas that holds one chart at a time: `draw` replaces the previous chart. Animations are off
 * so what the chart shows is final as soon as it is drawn (screenshots, tests).
 */
export function chartBox(testId: string): HTMLElement & { draw(config: ChartConfiguration): void } {
  const canvas = el('canvas', { 'data-testid': testId });
  let chart: ChartClass | null = null;
  return Object.assign(el('div', { class: 'chart' }, canvas), {
    draw(config: ChartConfiguration) {
      chart?.destroy();
      const options = { responsive: true, maintainAspectRatio: false, animation: false as const, ...(config.options ?? {}) };
      chart = new Chart(canvas, { ...config, options } as ChartConfiguration);
      canvas.dataset.drawn = String(Number(canvas.dataset.drawn ?? 0) + 1);
    },
  });
}

export const COLOURS = ['#2f6fdb', '#e0703a', '#3aa676', '#a05bd6', '#d64b6b', '#8a8f2f', '#3ab0c4', '#6b7487'];

/** Runs `work` with the button disabled, showing any error in `errors`. */
export async function busy(button: HTMLButtonElement | null, errors: ReturnType<typeof errorBox>, work: () => Promise<void>): Promise<void> {
  if (button) button.disabled = true;
  errors.show(null);
  try {
    await work();
  } catch (error) {
    errors.show(error);
  } finally {
    if (button) button.disabled = false;
  }
}

/** Offers text as a file download (CSV export). */
export function download(filename: string, text: string, type = 'text/csv'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = el('a', { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
