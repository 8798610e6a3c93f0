/**
 * Formatting as the extension did it for version-1 payloads (raw rows only). Version-2
 * payloads carry their text from Python (`nbopt/display/units.py`, `table.py`).
 */

import { num, Row } from './model';

/** A row's value as text (`''` when missing), JSON for objects. */
export function text(row: Row, column: string): string {
  const v = row[column];
  if (v === null || v === undefined) {
    return '';
  }
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The variant's name as version 1 showed it: the scheme, or technique (`prune+int8`). */
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

/** The metric the rows were measured with (the first row's that names one), or null. */
export function metricOf(rows: Row[]): string | null {
  const metric = rows.map(r => r.metric).find(m => typeof m === 'string');
  return typeof metric === 'string' ? metric : null;
}

/** The rows' own `higher_is_better`, else true for accuracy-like names. */
export function higherIsBetter(rows: Row[]): boolean {
  const flag = rows.map(r => r.higher_is_better).find(f => typeof f === 'boolean');
  if (typeof flag === 'boolean') {
    return flag;
  }
  const metric = metricOf(rows);
  return metric === null || metric.includes('accuracy');
}

/** The metric's name (`metric` if none was measured). */
export function metricName(rows: Row[]): string {
  return metricOf(rows) ?? 'metric';
}

function digits(v: number): string {
  return Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1);
}

/** `v` with `places` decimals, a tie rounded to the even digit as Python does. */
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

/** The row's number in `column` as `format` writes it, `''` when missing. */
export function formatted(row: Row, column: string, format: (v: number) => string): string {
  const v = num(row, column);
  return v === null ? '' : format(v);
}

/** Bytes as `812 B`, `603.3 KB` or `1.23 MB`. */
export function formatBytes(v: number): string {
  if (v < 1024) {
    return `${v.toFixed(0)} B`;
  }
  if (v < 1024 * 1024) {
    return `${fixedEven(v / 1024, 1)} KB`;
  }
  return `${fixedEven(v / 1024 / 1024, 2)} MB`;
}

/** Milliseconds as `5.1 µs`, `370 µs`, `1.2 ms`, `1.25 s`. */
export function formatLatency(ms: number): string {
  if (ms < 1) {
    return `${digits(ms * 1000)} µs`;
  }
  return ms < 1000 ? `${digits(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** A ratio such as `2.00×`. */
export function formatRatio(v: number): string {
  return `${v.toFixed(2)}×`;
}

/** The metric (`93.9%`, `0.01235`) or its change (`-17.1 pt`, `+0.002`) of a row. */
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
    const places = Math.abs(points) < 0.1 && points !== 0 ? 2 : 1;
    return `${points >= 0 ? '+' : '-'}${Math.abs(points).toFixed(places)} pt`;
  }
  return `${delta && v >= 0 ? '+' : ''}${String(Number(v.toPrecision(4)))}`;
}
