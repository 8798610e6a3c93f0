/**
 * The shape of a comparison as the renderer draws it, whatever the payload's version, and
 * the small readers every part uses.
 */

/** A JSON value as it arrives in an output bundle. */
export type JSONValue =
  string | number | boolean | null | JSONValue[] | { [key: string]: JSONValue };

/** One measured variant: column name to value (numbers as numbers, nulls where missing). */
export type Row = { [column: string]: JSONValue };

/** The SVG elements a chart is drawn with. */
export type ChartElement = 'line' | 'polyline' | 'circle' | 'text';

/** The numeric attributes a chart item may have. */
export const COORDINATES = ['x', 'y', 'x1', 'y1', 'x2', 'y2', 'cx', 'cy', 'r'] as const;

/** One drawing item of a chart, in SVG user units. */
export interface IChartItem {
  /** The element drawn. */
  el: ChartElement;
  /** Its CSS classes (`nbopt-point nbopt-pareto`, `nbopt-point-label`, ...). */
  cls: string;
  /** Its coordinates (`x`, `y`, `cx`, `r`, ...). */
  at: { [name: string]: number };
  /** A polyline's points. */
  points?: [number, number][];
  /** A text's content. */
  text?: string;
  /** A text's anchor. */
  anchor?: 'start' | 'middle' | 'end';
  /** A text's rotation in degrees, around its position. */
  rotate?: number;
  /** The payload rows this item stands for (a marker: one or several; a label: one). */
  rows?: number[];
  /** The tooltip shown on hover (one line per variant). */
  tip?: string;
}

/** A chart against one horizontal axis. */
export interface IChart {
  /** The row column on the horizontal axis (`size_bytes`, `ram_bytes`). */
  x: string;
  /** Its name on buttons and labels (`size`, `RAM`). */
  name: string;
  /** The chart's size in SVG user units. */
  width: number;
  height: number;
  /** What the chart shows, for screen readers. */
  title: string;
  /** True if the horizontal axis is a log axis. */
  log: boolean;
  /** Indices of the rows on the Pareto front of this axis and the metric. */
  frontRows: number[];
  /** What to draw, in order. */
  items: IChartItem[];
}

/** The results table as Python's presentation layer made it. */
export interface ITable {
  /** The headings, in the order shown. */
  headings: string[];
  /** The row column each heading shows (`variant`, `size_bytes`, `compatibility`). */
  keys: string[];
  /** Which columns hold numbers (right-aligned, sorted by value). */
  numeric: boolean[];
  /** Each row's variant name (`int8 (int8 I/O)`). */
  labels: string[];
  /** Each row's cells as text, one per heading. */
  cells: string[][];
  /** Each row's status (`ok`, `failed`, `skipped`). */
  statuses: string[];
  /** `variant: error` for each failed row. */
  errors: string[];
  /** The numbered compatibility notes and the rows' own notes. */
  notes: string[];
  /** The accuracy drops of more than 2 points. */
  callouts: string[];
  /** The step under way, if any. */
  pending: string;
}

/** A comparison payload after validation. */
export interface IComparison {
  /** The payload's version (1 or 2). */
  version: number;
  /** The model's name as the user wrote it (e.g. `model`). */
  name: string;
  /** `nbopt: model (running) · 3 variants`. */
  caption: string;
  /** False while the comparison is still running. */
  done: boolean;
  /** One entry per variant, in measurement order (raw values, for sorting). */
  rows: Row[];
  /** The table. */
  table: ITable;
  /** One chart per horizontal axis with points: size first, then RAM. */
  charts: IChart[];
  /** The metric's name, if one was measured. */
  metric: string | null;
  /** True if a higher metric is better (null when no metric was measured). */
  higherIsBetter: boolean | null;
  /** A search's pick (`nbopt.optimize`), or null for a comparison. */
  pick: IPick | null;
}

/** What a search chose: its candidate, the one sentence of why, the magic that makes it. */
export interface IPick {
  /** The chosen candidate (`int4`, `prune 0.5+int8`), or null if none is within budget. */
  label: string | null;
  /** Why it was chosen (or why nothing was). */
  reason: string;
  /** The magic line that reproduces it, or null. */
  line: string | null;
  /** The search's decisions in words (who trained on, who stopped and why). */
  trail: string[];
}

/** A plain JSON object. */
export type JSONObject = { [key: string]: unknown };

/** True for a plain object (not null, not an array). */
export function isObject(value: unknown): value is JSONObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value` as text (`''` when missing). */
export function str(value: unknown): string {
  return value === null || value === undefined ? '' : String(value);
}

/** `value`'s entries as text (`[]` if it is not an array). */
export function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(str) : [];
}

/** True for a finite number. */
export function finite(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** `value`'s entries that are row indices (whole numbers from 0). */
export function indices(value: unknown): number[] {
  return Array.isArray(value) ? value.filter(v => Number.isInteger(v) && v >= 0) : [];
}

/**
 * A number from a row, or `null` if the value is missing or not a finite number.
 *
 * @param row - one variant.
 * @param column - the column to read.
 */
export function num(row: Row, column: string): number | null {
  const v = row[column];
  return finite(v) ? v : null;
}
