/**
 * The comparison payload that nbopt's Python side publishes, read defensively.
 *
 * Version 2 carries what Python's presentation layer computed: the table's headings and
 * formatted cells in the order shown, the notes, errors and call-outs under it, the metric's
 * direction, and each chart's layout (drawing items) with its Pareto front. The renderer draws
 * it and computes none of it. Version-1 payloads (raw rows only, in notebooks saved before)
 * are turned into the same shape by `version1.ts`.
 *
 * Nothing here trusts the payload: every value is checked for its type, and anything
 * unexpected is dropped or becomes its `String()`.
 */

import {
  ChartElement,
  COORDINATES,
  finite,
  IChart,
  IChartItem,
  IComparison,
  indices,
  IPick,
  isObject,
  ITable,
  JSONObject,
  Row,
  str,
  strings
} from './model';
import { fromVersion1 } from './version1';

/** MIME type of the JSON payload published by `Comparison._repr_mimebundle_`. */
export const COMPARISON_MIME = 'application/vnd.nbopt.comparison+json';

const ELEMENTS = new Set<string>(['line', 'polyline', 'circle', 'text']);
const ANCHORS = new Set<string>(['start', 'middle', 'end']);

/**
 * One chart item, or `null` if it is not one: an unknown element, classes other than
 * lowercase words, coordinates that are not numbers are all refused or dropped.
 */
function readItem(value: unknown): IChartItem | null {
  if (!isObject(value) || !ELEMENTS.has(str(value.el))) {
    return null;
  }
  const cls = str(value.cls);
  if (!/^[a-z0-9 -]*$/.test(cls)) {
    return null;
  }
  const item: IChartItem = { el: value.el as ChartElement, cls, at: {} };
  for (const name of COORDINATES) {
    if (finite(value[name])) {
      item.at[name] = value[name] as number;
    }
  }
  if (Array.isArray(value.points)) {
    item.points = value.points
      .filter(p => Array.isArray(p) && p.length === 2 && finite(p[0]) && finite(p[1]))
      .map(p => [p[0], p[1]] as [number, number]);
  }
  if (value.text !== undefined) {
    item.text = str(value.text);
  }
  if (ANCHORS.has(str(value.anchor))) {
    item.anchor = value.anchor as IChartItem['anchor'];
  }
  if (finite(value.rotate)) {
    item.rotate = value.rotate;
  }
  if (value.rows !== undefined) {
    item.rows = indices(value.rows);
  }
  if (value.tip !== undefined) {
    item.tip = str(value.tip);
  }
  return item;
}

function readChart(value: unknown): IChart | null {
  if (!isObject(value) || !Array.isArray(value.items)) {
    return null;
  }
  return {
    x: str(value.x),
    name: str(value.name),
    width: finite(value.width) ? value.width : 640,
    height: finite(value.height) ? value.height : 320,
    title: str(value.title),
    log: value.log === true,
    frontRows: indices(value.front_rows),
    items: value.items.map(readItem).filter((i): i is IChartItem => i !== null)
  };
}

function readTable(value: unknown, rows: number): ITable {
  const t = isObject(value) ? value : {};
  const headings = strings(t.headings);
  const [keys, labels, statuses] = [strings(t.keys), strings(t.labels), strings(t.statuses)];
  const cells = (Array.isArray(t.cells) ? t.cells : []).map(strings);
  const each = <T>(n: number, f: (i: number) => T): T[] =>
    Array.from({ length: n }, (_, i) => f(i));
  return {
    headings,
    keys: each(headings.length, i => keys[i] ?? ''),
    numeric: each(headings.length, i => Array.isArray(t.numeric) && t.numeric[i] === true),
    labels: each(rows, i => labels[i] ?? ''),
    cells: each(rows, i => cells[i] ?? []),
    statuses: each(rows, i => statuses[i] ?? ''),
    errors: strings(t.errors),
    notes: strings(t.notes),
    callouts: strings(t.callouts),
    pending: str(t.pending)
  };
}

/** A search's pick, or `null` if `value` holds none (a comparison's payload). */
function readPick(value: unknown): IPick | null {
  if (!isObject(value) || typeof value.reason !== 'string') {
    return null;
  }
  const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
  return {
    label: text(value.label),
    reason: value.reason,
    line: text(value.line),
    trail: strings(value.trail)
  };
}

function readVersion2(data: JSONObject): IComparison | null {
  if (!Array.isArray(data.rows) || !isObject(data.table)) {
    return null;
  }
  const rows = data.rows.filter(isObject) as Row[];
  const higher = data.higher_is_better;
  return {
    version: 2,
    name: str(data.name),
    caption: str(data.caption),
    done: data.done !== false,
    rows,
    table: readTable(data.table, rows.length),
    charts: (Array.isArray(data.charts) ? data.charts : [])
      .map(readChart)
      .filter((c): c is IChart => c !== null),
    metric: typeof data.metric === 'string' ? data.metric : null,
    higherIsBetter: typeof higher === 'boolean' ? higher : null,
    pick: readPick(data.pick)
  };
}

/**
 * Read a comparison payload from an output bundle's data.
 *
 * @param data - the value stored under {@link COMPARISON_MIME}.
 * @returns the payload, or `null` if it is not a version-1 or version-2 comparison.
 */
export function readComparison(data: unknown): IComparison | null {
  if (!isObject(data)) {
    return null;
  }
  if (data.version === 2) {
    return readVersion2(data);
  }
  if (data.version === 1 && Array.isArray(data.rows)) {
    return fromVersion1(data);
  }
  return null;
}
