/**
 * Version-1 payloads, as notebooks saved before payload version 2 hold them: raw rows only.
 *
 * They are turned into the shape version 2 carries (table cells, errors, a chart layout per
 * axis) with the formatting the extension used then, so that they render as they did. New
 * outputs never come here: Python computes all of it (`nbopt/display/`).
 */

import { IComparison, isObject, ITable, JSONObject, num, Row, str } from './model';
import { chartsOf } from './version1-chart';
import {
  formatBytes,
  formatLatency,
  formatMetric,
  formatRatio,
  formatted,
  higherIsBetter,
  metricName,
  metricOf,
  text,
  variantLabel
} from './version1-format';

/** One column of the version-1 table: the row column it shows and its cell's text. */
interface IColumn {
  key: string;
  heading: string;
  numeric: boolean;
  format: (row: Row) => string;
}

function numbers(key: string, heading: string, fmt: (v: number) => string): IColumn {
  return {
    key,
    heading,
    numeric: true,
    format: row => formatted(row, key, fmt)
  };
}

/** The version-1 table's columns; RAM, sparsity and distinct values when some row has them. */
export function tableColumns(rows: Row[]): IColumn[] {
  const has = (key: string): boolean => rows.some(r => num(r, key) !== null);
  return [
    { key: 'variant', heading: 'variant', numeric: false, format: variantLabel },
    { key: 'status', heading: 'status', numeric: false, format: r => text(r, 'status') },
    numbers('size_bytes', 'size', formatBytes),
    numbers('size_ratio', 'smaller', formatRatio),
    numbers('gzip_bytes', 'gzip', formatBytes),
    ...(has('ram_bytes') ? [numbers('ram_bytes', 'RAM', formatBytes)] : []),
    numbers('latency_ms', 'latency', formatLatency),
    numbers('latency_p90_ms', 'p90', formatLatency),
    numbers('speedup', 'speedup', formatRatio),
    {
      key: 'accuracy',
      heading: metricName(rows),
      numeric: true,
      format: r => formatMetric(r, 'accuracy')
    },
    {
      key: 'accuracy_delta',
      heading: 'Δ',
      numeric: true,
      format: r => formatMetric(r, 'accuracy_delta')
    },
    ...(has('sparsity') ? [numbers('sparsity', 'sparsity', v => `${(v * 100).toFixed(0)}%`)] : []),
    ...(has('max_distinct_values')
      ? [
          numbers('max_distinct_values', 'distinct values', v =>
            Math.round(v).toLocaleString('en-US')
          )
        ]
      : [])
  ];
}

function tableOf(rows: Row[], callouts: string[]): ITable {
  const columns = tableColumns(rows);
  return {
    headings: columns.map(c => c.heading),
    keys: columns.map(c => c.key),
    numeric: columns.map(c => c.numeric),
    labels: rows.map(variantLabel),
    cells: rows.map(row => columns.map(c => c.format(row))),
    statuses: rows.map(r => text(r, 'status')),
    errors: rows
      .filter(r => text(r, 'error') !== '')
      .map(r => `${variantLabel(r)}: ${text(r, 'error')}`),
    notes: [],
    callouts,
    pending: ''
  };
}

/**
 * A version-1 payload in the shape the renderer draws.
 *
 * @param data - the payload (`version` is 1 and `rows` an array).
 */
export function fromVersion1(data: JSONObject): IComparison {
  const rows = (data.rows as unknown[]).filter(isObject) as Row[];
  const name = str(data.name);
  const done = data.done !== false;
  const count = `${rows.length} ${rows.length === 1 ? 'variant' : 'variants'}`;
  const metric = metricOf(rows);
  return {
    version: 1,
    name,
    caption: `nbopt: ${name}${done ? '' : ' (running)'} · ${count}`,
    done,
    rows,
    table: tableOf(rows, Array.isArray(data.callouts) ? data.callouts.map(str) : []),
    charts: chartsOf(rows),
    metric,
    higherIsBetter: metric === null ? null : higherIsBetter(rows),
    pick: null
  };
}
