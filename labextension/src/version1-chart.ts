/**
 * The chart of a version-1 payload, laid out as the extension did before payload version 2
 * (linear axes, one circle per variant, labels beside them), as drawing items. Version-2
 * payloads carry their layout from Python (`nbopt/display/chart.py`).
 */

import { IChart, IChartItem, num, Row } from './model';
import {
  formatBytes,
  formatLatency,
  formatMetric,
  formatRatio,
  formatted,
  higherIsBetter,
  metricName,
  variantLabel
} from './version1-format';

const WIDTH = 520;
const HEIGHT = 280;
const MARGIN = { left: 64, right: 96, top: 16, bottom: 44 };
const NAMES: { [column: string]: string } = { size_bytes: 'size', ram_bytes: 'RAM' };

/** A point: a row's index, its value on both axes and its latency. */
interface IPoint {
  index: number;
  size: number;
  quality: number;
  latency: number | null;
}

/** A box in SVG user units. */
interface IBox {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/** The vertical axis: the metric if some ok row has one, else latency. */
function qualityAxis(rows: Row[]): { column: string; label: string; higher: boolean } {
  if (rows.some(r => r.status === 'ok' && num(r, 'accuracy') !== null)) {
    const higher = higherIsBetter(rows);
    const label = `${metricName(rows)} (${higher ? 'higher' : 'lower'} is better)`;
    return { column: 'accuracy', label, higher };
  }
  return { column: 'latency_ms', label: 'latency (lower is better)', higher: false };
}

/** The rows on the Pareto front of `pts`: none other at least as good on both, better on one. */
export function paretoFront(pts: IPoint[], higher: boolean): Set<number> {
  const better = (a: number, b: number): boolean => (higher ? a > b : a < b);
  return new Set(
    pts
      .filter(
        p =>
          !pts.some(
            q =>
              q !== p &&
              q.size <= p.size &&
              !better(p.quality, q.quality) &&
              (q.size < p.size || better(q.quality, p.quality))
          )
      )
      .map(p => p.index)
  );
}

/** About `count` round tick values covering `[lo, hi]`. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  const raw = (hi - lo) / Math.max(1, count);
  const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map(m => m * magnitude).find(s => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Number(v.toPrecision(12)));
  }
  return out;
}

function domain(values: number[], fromZero: boolean, ceiling?: number): [number, number] {
  let lo = fromZero ? 0 : Math.min(...values);
  let hi = Math.max(...values);
  const spread = hi - lo;
  const pad = spread > 0 ? spread * 0.1 : hi === 0 ? 1 : Math.abs(hi) * 0.05;
  hi += pad;
  lo = fromZero ? 0 : lo - pad;
  if (ceiling !== undefined && hi > ceiling && Math.max(...values) <= ceiling) {
    hi = ceiling;
    if (spread === 0) {
      lo = Math.min(lo, ceiling - 2 * pad);
    }
  }
  return [lo, hi];
}

function overlaps(a: IBox, b: IBox): boolean {
  return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
}

/** Right of the point, left, above, below, then further up or down: the first free place. */
function placeLabel(x: number, y: number, r: number, w: number, taken: IBox[], bounds: IBox): IBox {
  const h = 12;
  const candidates: IBox[] = [
    { x0: x + r + 3, x1: x + r + 3 + w, y0: y - h / 2, y1: y + h / 2 },
    { x0: x - r - 3 - w, x1: x - r - 3, y0: y - h / 2, y1: y + h / 2 },
    { x0: x - w / 2, x1: x + w / 2, y0: y - r - 2 - h, y1: y - r - 2 },
    { x0: x - w / 2, x1: x + w / 2, y0: y + r + 2, y1: y + r + 2 + h }
  ];
  for (let step = 1; step <= 8; step++) {
    for (const dy of [step * h, -step * h]) {
      for (const c of candidates.slice(0, 2)) {
        candidates.push({ ...c, y0: c.y0 + dy, y1: c.y1 + dy });
      }
    }
  }
  const inside = (b: IBox): boolean =>
    b.x0 >= bounds.x0 && b.x1 <= bounds.x1 && b.y0 >= bounds.y0 && b.y1 <= bounds.y1;
  return (
    candidates.find(b => inside(b) && !taken.some(t => overlaps(b, t))) ??
    candidates.find(inside) ??
    candidates[0]
  );
}

function tooltip(row: Row, p: IPoint, column: string, pareto: boolean, x: string): string {
  const ratio = num(row, 'size_ratio');
  const size = formatted(row, 'size_bytes', formatBytes);
  const shown =
    size && ratio !== null && ratio !== 1 ? `${size} (${formatRatio(ratio)} smaller)` : size;
  const parts =
    x === 'ram_bytes'
      ? [`${variantLabel(row)}: RAM ${formatBytes(p.size)}`, ...(shown ? [`size ${shown}`] : [])]
      : [`${variantLabel(row)}: ${shown}`];
  if (column === 'accuracy') {
    const name = metricName([row]);
    const delta = formatMetric(row, 'accuracy_delta');
    parts.push(`${name} ${formatMetric(row, 'accuracy')}` + (delta ? ` (${delta})` : ''));
  }
  parts.push(p.latency === null ? 'latency not measured' : `latency ${formatLatency(p.latency)}`);
  return parts.join(', ') + (pareto ? ' (Pareto front)' : '');
}

function label(x: number, y: number, text: string, cls: string, anchor = 'start'): IChartItem {
  return { el: 'text', cls, at: { x, y }, text, anchor: anchor as IChartItem['anchor'] };
}

function line(x1: number, y1: number, x2: number, y2: number): IChartItem {
  return { el: 'line', cls: 'nbopt-axis', at: { x1, y1, x2, y2 } };
}

/** The plot's scales from values to SVG user units, and the sizes' unit. */
interface IFrame {
  sx: (v: number) => number;
  sy: (v: number) => number;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  divisor: number;
  unit: string;
}

const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;
const BOTTOM = MARGIN.top + PLOT_H;

function frameOf(pts: IPoint[], accuracy: boolean): IFrame {
  const mb = Math.max(...pts.map(p => p.size)) >= 1024 * 1024;
  const divisor = mb ? 1024 * 1024 : 1024;
  const [x0, x1] = domain(
    pts.map(p => p.size / divisor),
    true
  );
  const [y0, y1] = domain(
    pts.map(p => p.quality),
    false,
    accuracy ? 1 : undefined
  );
  return {
    sx: v => MARGIN.left + ((v - x0) / (x1 - x0)) * PLOT_W,
    sy: v => MARGIN.top + (1 - (v - y0) / (y1 - y0)) * PLOT_H,
    x0,
    x1,
    y0,
    y1,
    divisor,
    unit: mb ? 'MB' : 'KB'
  };
}

function tickText(v: number): string {
  return Number(v.toPrecision(6)).toLocaleString('en-US', { maximumFractionDigits: 4 });
}

function axisItems(
  f: IFrame,
  xName: string,
  yLabel: string,
  yText: (v: number) => string
): IChartItem[] {
  const items: IChartItem[] = [
    line(MARGIN.left, BOTTOM, MARGIN.left + PLOT_W, BOTTOM),
    line(MARGIN.left, MARGIN.top, MARGIN.left, BOTTOM)
  ];
  for (const t of ticks(f.x0, f.x1)) {
    items.push(line(f.sx(t), BOTTOM, f.sx(t), BOTTOM + 4));
    items.push(label(f.sx(t), BOTTOM + 16, tickText(t), 'nbopt-tick nbopt-tick-x', 'middle'));
  }
  for (const t of ticks(f.y0, f.y1)) {
    items.push(line(MARGIN.left - 4, f.sy(t), MARGIN.left, f.sy(t)));
    items.push(label(MARGIN.left - 6, f.sy(t) + 4, yText(t), 'nbopt-tick nbopt-tick-y', 'end'));
  }
  const xLabel = `${xName} (${f.unit}), smaller is better`;
  items.push(label(MARGIN.left + PLOT_W / 2, HEIGHT - 6, xLabel, 'nbopt-axis-label', 'middle'));
  const y = label(14, MARGIN.top + PLOT_H / 2, yLabel, 'nbopt-axis-label', 'middle');
  items.push({ ...y, rotate: -90 });
  return items;
}

function legendItems(): IChartItem[] {
  const lx = WIDTH - MARGIN.right + 10;
  return [
    { el: 'circle', cls: 'nbopt-point nbopt-pareto', at: { cx: lx + 5, cy: MARGIN.top + 6, r: 5 } },
    label(lx + 14, MARGIN.top + 10, 'Pareto front', 'nbopt-legend'),
    { el: 'circle', cls: 'nbopt-point', at: { cx: lx + 5, cy: MARGIN.top + 26, r: 5 } },
    label(lx + 14, MARGIN.top + 30, 'dominated', 'nbopt-legend'),
    label(lx, MARGIN.top + 52, 'circle size:', 'nbopt-legend'),
    label(lx, MARGIN.top + 66, 'latency', 'nbopt-legend')
  ];
}

/** The front's dashed line, a circle per point (the front's last) and labels beside them. */
function pointItems(
  rows: Row[],
  pts: IPoint[],
  f: IFrame,
  front: Set<number>,
  tip: (p: IPoint) => string
): IChartItem[] {
  const at = (p: IPoint): [number, number] => [f.sx(p.size / f.divisor), f.sy(p.quality)];
  const items: IChartItem[] = [];
  const onFront = pts.filter(p => front.has(p.index)).sort((a, b) => a.size - b.size);
  if (onFront.length > 1) {
    items.push({ el: 'polyline', cls: 'nbopt-front-line', at: {}, points: onFront.map(at) });
  }
  const maxLatency = Math.max(0, ...pts.map(p => p.latency ?? 0));
  const radius = (p: IPoint): number =>
    maxLatency > 0 && p.latency !== null ? 4 + 8 * Math.sqrt(p.latency / maxLatency) : 5;
  const taken: IBox[] = pts.map(p => {
    const [cx, cy] = at(p);
    const r = radius(p);
    return { x0: cx - r, x1: cx + r, y0: cy - r, y1: cy + r };
  });
  const bounds = { x0: MARGIN.left + 2, x1: MARGIN.left + PLOT_W, y0: MARGIN.top - 4, y1: BOTTOM };
  const labels: IChartItem[] = [];
  const order = [...pts].sort(
    (a, b) => Number(front.has(a.index)) - Number(front.has(b.index)) || a.size - b.size
  );
  for (const p of order) {
    const [cx, cy] = at(p);
    const r = radius(p);
    const cls = front.has(p.index) ? 'nbopt-point nbopt-pareto' : 'nbopt-point';
    items.push({ el: 'circle', cls, at: { cx, cy, r }, rows: [p.index], tip: tip(p) });
    const name = variantLabel(rows[p.index]);
    const box = placeLabel(cx, cy, r, 6.8 * name.length, taken, bounds);
    taken.push(box);
    const text = label(box.x0, box.y1 - 3, name, 'nbopt-point-label');
    labels.push({ ...text, rows: [p.index], tip: tip(p) });
  }
  return [...items, ...labels];
}

/** The chart of `rows` against `x`, or null if no row has a point. */
function chartOf(rows: Row[], x: string): IChart | null {
  const axis = qualityAxis(rows);
  const pts: IPoint[] = [];
  rows.forEach((row, index) => {
    const size = num(row, x);
    const quality = num(row, axis.column);
    if (row.status === 'ok' && size !== null && quality !== null) {
      pts.push({ index, size, quality, latency: num(row, 'latency_ms') });
    }
  });
  if (pts.length === 0) {
    return null;
  }
  const front = paretoFront(pts, axis.higher);
  const accuracy = axis.column === 'accuracy' && rows.some(r => r.metric === 'accuracy');
  const f = frameOf(pts, accuracy);
  const yText = (t: number): string =>
    axis.column === 'latency_ms'
      ? formatLatency(t)
      : accuracy
        ? `${tickText(t * 100)}%`
        : tickText(t);
  const tip = (p: IPoint): string => tooltip(rows[p.index], p, axis.column, front.has(p.index), x);
  return {
    x,
    name: NAMES[x],
    width: WIDTH,
    height: HEIGHT,
    title: `${NAMES[x]} against ${axis.label}`,
    log: false,
    frontRows: [...front].sort((a, b) => a - b),
    items: [
      ...axisItems(f, NAMES[x], axis.label, yText),
      ...pointItems(rows, pts, f, front, tip),
      ...legendItems()
    ]
  };
}

/** The charts of a version-1 payload's rows: size, and RAM when some ok row has it. */
export function chartsOf(rows: Row[]): IChart[] {
  return ['size_bytes', 'ram_bytes']
    .map(x => chartOf(rows, x))
    .filter((c): c is IChart => c !== null);
}
