/**
 * The comparison payload that nbopt's Python side publishes, read defensively.
 *
 * Nothing here trusts the payload: every value is checked for its type, and anything
 * unexpected becomes `null` (numbers) or its `String()` (text).
 */

/** MIME type of the JSON payload published by `Comparison._repr_mimebundle_`. */
export const COMPARISON_MIME = 'application/vnd.nbopt.comparison+json';

/** A JSON value as it arrives in an output bundle. */
export type JSONValue =
  string | number | boolean | null | JSONValue[] | { [key: string]: JSONValue };

/** One measured variant: column name to value (numbers as numbers, nulls where missing). */
export type Row = { [column: string]: JSONValue };

/** A comparison payload (version 1) after validation. */
export interface IComparison {
  /** The model's name as the user wrote it (e.g. `model`). */
  name: string;
  /** False while the comparison is still running. */
  done: boolean;
  /** Every column, in the Python DataFrame's order. */
  columns: string[];
  /** One entry per variant, in measurement order. */
  rows: Row[];
}

function isObject(value: unknown): value is { [key: string]: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Read a comparison payload from an output bundle's data.
 *
 * @param data - the value stored under {@link COMPARISON_MIME}.
 * @returns the payload, or `null` if it is not a version-1 comparison.
 */
export function readComparison(data: unknown): IComparison | null {
  if (!isObject(data) || data.version !== 1 || !Array.isArray(data.rows)) {
    return null;
  }
  const rows = data.rows.filter(isObject) as Row[];
  const columns = Array.isArray(data.columns)
    ? data.columns.map(c => String(c))
    : Array.from(new Set(([] as string[]).concat(...rows.map(r => Object.keys(r)))));
  return {
    name: data.name === undefined || data.name === null ? '' : String(data.name),
    done: data.done !== false,
    columns,
    rows
  };
}

/**
 * A number from a row, or `null` if the value is missing or not a finite number.
 *
 * @param row - one variant.
 * @param column - the column to read.
 */
export function num(row: Row, column: string): number | null {
  const v = row[column];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * A value from a row as plain text (`''` when missing).
 *
 * @param row - one variant.
 * @param column - the column to read.
 */
export function text(row: Row, column: string): string {
  const v = row[column];
  if (v === null || v === undefined) {
    return '';
  }
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * The name a table shows for a variant, as Python's `variant_label` does: the scheme for the
 * baseline and post-training variants, else the technique (`prune`, `qat`) and any scheme
 * applied after it (`prune+int8`).
 *
 * @param row - one measured variant.
 * @returns its label, as text.
 */
export function variantLabel(row: Row): string {
  const technique = text(row, 'technique');
  const scheme = text(row, 'scheme');
  if (technique === '' || technique === 'baseline' || technique === 'ptq') {
    return scheme;
  }
  if (technique === 'qat' || scheme === 'float32') {
    return technique;
  }
  return `${technique}+${scheme}`;
}

/**
 * True if higher values of the comparison's metric are better: the rows' own
 * `higher_is_better` (nbopt computes it from the metric), else accuracy-like names
 * (outputs saved before nbopt wrote that column).
 */
export function higherIsBetter(rows: Row[]): boolean {
  const flag = rows.map(r => r.higher_is_better).find(f => typeof f === 'boolean');
  if (typeof flag === 'boolean') {
    return flag;
  }
  const metric = rows.map(r => r.metric).find(m => typeof m === 'string');
  return typeof metric !== 'string' || metric.includes('accuracy');
}

/** The metric's name shown in headings: `accuracy`, `mse`, or `metric` if none was measured. */
export function metricName(rows: Row[]): string {
  const metric = rows.map(r => r.metric).find(m => typeof m === 'string');
  return typeof metric === 'string' ? metric : 'metric';
}

/** What the chart's horizontal axis can show: the .tflite size or the RAM needed at run time. */
export type SizeColumn = 'size_bytes' | 'ram_bytes';

/** The horizontal axis's name in labels and tooltips. */
export const SIZE_NAMES: { [column in SizeColumn]: string } = {
  size_bytes: 'size',
  ram_bytes: 'RAM'
};

/**
 * The horizontal axes the chart can show: size, and RAM when some ok variant has it.
 *
 * @param rows - the payload's rows.
 */
export function sizeColumns(rows: Row[]): SizeColumn[] {
  const ram = rows.some(r => r.status === 'ok' && num(r, 'ram_bytes') !== null);
  return ram ? ['size_bytes', 'ram_bytes'] : ['size_bytes'];
}

/** A point of the size-against-quality chart: one ok variant with both values. */
export interface IPoint {
  /** Index of the variant in the payload's rows. */
  index: number;
  /** Its value on the horizontal axis in bytes: the .tflite size, or the RAM it needs. */
  size: number;
  /** The quality value: accuracy or mse, or latency when no metric was measured. */
  quality: number;
  /** Median latency in milliseconds, if measured. */
  latency: number | null;
}

/** What the chart's vertical axis shows. */
export interface IQualityAxis {
  /** Column plotted against size. */
  column: 'accuracy' | 'latency_ms';
  /** Label of the axis. */
  label: string;
  /** True if a higher value is better. */
  higherIsBetter: boolean;
}

/**
 * Choose the chart's vertical axis: the metric if any ok variant has one, else latency.
 *
 * @param rows - the payload's rows.
 */
export function qualityAxis(rows: Row[]): IQualityAxis {
  const ok = rows.filter(r => r.status === 'ok');
  if (ok.some(r => num(r, 'accuracy') !== null)) {
    const name = metricName(rows);
    const higher = higherIsBetter(rows);
    return {
      column: 'accuracy',
      label: `${name} (${higher ? 'higher' : 'lower'} is better)`,
      higherIsBetter: higher
    };
  }
  return { column: 'latency_ms', label: 'latency (lower is better)', higherIsBetter: false };
}

/**
 * The chart's points: ok variants with a value on both axes.
 *
 * @param rows - the payload's rows.
 * @param axis - the vertical axis, from {@link qualityAxis}.
 * @param x - the horizontal axis: the .tflite size (default) or the RAM.
 */
export function points(rows: Row[], axis: IQualityAxis, x: SizeColumn = 'size_bytes'): IPoint[] {
  const out: IPoint[] = [];
  rows.forEach((row, index) => {
    const size = num(row, x);
    const quality = num(row, axis.column);
    if (row.status === 'ok' && size !== null && quality !== null) {
      out.push({ index, size, quality, latency: num(row, 'latency_ms') });
    }
  });
  return out;
}

/**
 * The Pareto front of size against quality.
 *
 * A point is on the front if no other point is at least as good on both size (smaller) and
 * quality, and strictly better on one.
 *
 * @param pts - the chart's points.
 * @param higher - true if a higher quality is better.
 * @returns the rows' indices of the points on the front.
 */
export function paretoFront(pts: IPoint[], higher: boolean): Set<number> {
  const better = (a: number, b: number): boolean => (higher ? a > b : a < b);
  const front = new Set<number>();
  for (const p of pts) {
    const dominated = pts.some(
      q =>
        q !== p &&
        q.size <= p.size &&
        !better(p.quality, q.quality) &&
        (q.size < p.size || better(q.quality, p.quality))
    );
    if (!dominated) {
      front.add(p.index);
    }
  }
  return front;
}

/**
 * Three significant digits at most, one decimal below 100: `5.1`, `37.0`, `603`, `1,234`.
 *
 * @param v - a non-negative number.
 */
function digits(v: number): string {
  if (Math.abs(v) >= 100) {
    return Math.round(v).toLocaleString('en-US');
  }
  return v.toFixed(1);
}

/**
 * `v` with `places` decimals and thousands separators, a tie rounded to the even digit as
 * Python's format does (`2.25` → `2.2`, `3.75` → `3.8`). Exact for a whole number of bytes
 * divided by 1024 or 1024²: such values are exact in binary, so a tie is a true tie.
 */
function fixedEven(v: number, places: number): string {
  const scale = Math.pow(10, places);
  const scaled = v * scale;
  const floor = Math.floor(scaled);
  const whole = scaled - floor === 0.5 && floor % 2 === 0 ? floor : Math.round(scaled);
  return (whole / scale).toLocaleString('en-US', {
    minimumFractionDigits: places,
    maximumFractionDigits: places
  });
}

/** Bytes as `812 B`, `603.3 KB` or `1.23 MB`, as the Python views show them. */
export function formatBytes(v: number): string {
  if (v < 1024) {
    return `${v.toFixed(0)} B`;
  }
  if (v < 1024 * 1024) {
    return `${fixedEven(v / 1024, 1)} KB`;
  }
  return `${fixedEven(v / 1024 / 1024, 2)} MB`;
}

/** Milliseconds as a person reads them: `5.1 µs`, `370 µs`, `1.2 ms`, `1.25 s`. */
export function formatLatency(ms: number): string {
  if (ms < 1) {
    return `${digits(ms * 1000)} µs`;
  }
  if (ms < 1000) {
    return `${digits(ms)} ms`;
  }
  return `${(ms / 1000).toFixed(2)} s`;
}

/** A number with 4 significant digits, as Python's `:.4g`. */
export function formatG(v: number): string {
  return String(Number(v.toPrecision(4)));
}

/** A ratio such as `2.00×`. */
export function formatRatio(v: number): string {
  return `${v.toFixed(2)}×`;
}

/** A share of a whole in whole percent: `80%`. */
export function formatShare(v: number): string {
  return `${(v * 100).toFixed(0)}%`;
}

/**
 * The metric's value or change as text: accuracy in % (`93.9%`) and its change in points
 * (`-17.1 pt`, two decimals below a tenth of a point), any other metric with 4 significant
 * digits.
 *
 * @param row - one variant.
 * @param column - `accuracy` or `accuracy_delta`.
 */
export function formatMetric(row: Row, column: string): string {
  const v = num(row, column);
  if (v === null) {
    return '';
  }
  const delta = column === 'accuracy_delta';
  if (row.metric === 'accuracy') {
    if (!delta) {
      return `${(v * 100).toFixed(1)}%`;
    }
    const points = v * 100;
    const sign = points >= 0 ? '+' : '-';
    const places = Math.abs(points) < 0.1 && points !== 0 ? 2 : 1;
    return `${sign}${Math.abs(points).toFixed(places)} pt`;
  }
  return `${delta && v >= 0 ? '+' : ''}${formatG(v)}`;
}
