/**
 * The size-against-metric chart (or RAM against metric): plain SVG built with DOM APIs,
 * values set as text.
 */

import {
  formatBytes,
  formatLatency,
  formatMetric,
  formatRatio,
  IPoint,
  IQualityAxis,
  num,
  Row,
  SIZE_NAMES,
  SizeColumn,
  variantLabel
} from './payload';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Chart geometry in SVG user units. */
const WIDTH = 520;
const HEIGHT = 280;
const MARGIN = { left: 64, right: 96, top: 16, bottom: 44 };

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: { [name: string]: string | number }
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    el.setAttribute(name, String(value));
  }
  return el;
}

function svgText(
  x: number,
  y: number,
  content: string,
  attrs: { [name: string]: string | number } = {}
): SVGTextElement {
  const el = svg('text', { x, y, ...attrs });
  el.textContent = content;
  return el;
}

/**
 * About `count` round tick values covering `[lo, hi]`.
 *
 * @param lo - the lower end.
 * @param hi - the upper end (greater than `lo`).
 * @param count - how many ticks are wanted.
 */
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

/** A box a label occupies, in SVG user units. */
interface IBox {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

function overlaps(a: IBox, b: IBox): boolean {
  return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
}

/** Approximate width of `content` at the chart's 11px font. */
function textWidth(content: string): number {
  return 6.8 * content.length;
}

/**
 * Where a point's label goes: right of the point, left, above, below, then further down;
 * the first place inside the plot that covers no other label and no other point.
 *
 * @param x - the point's centre.
 * @param y - the point's centre.
 * @param r - the point's radius.
 * @param width - the label's width.
 * @param taken - boxes of labels and points already placed.
 * @param bounds - the plot area.
 * @returns the label's box (text baseline at `y1 - 3`).
 */
export function placeLabel(
  x: number,
  y: number,
  r: number,
  width: number,
  taken: IBox[],
  bounds: IBox
): IBox {
  const h = 12;
  const candidates: IBox[] = [
    { x0: x + r + 3, x1: x + r + 3 + width, y0: y - h / 2, y1: y + h / 2 },
    { x0: x - r - 3 - width, x1: x - r - 3, y0: y - h / 2, y1: y + h / 2 },
    { x0: x - width / 2, x1: x + width / 2, y0: y - r - 2 - h, y1: y - r - 2 },
    { x0: x - width / 2, x1: x + width / 2, y0: y + r + 2, y1: y + r + 2 + h }
  ];
  for (let step = 1; step <= 8; step++) {
    for (const dy of [step * h, -step * h]) {
      candidates.push({ ...candidates[0], y0: candidates[0].y0 + dy, y1: candidates[0].y1 + dy });
      candidates.push({ ...candidates[1], y0: candidates[1].y0 + dy, y1: candidates[1].y1 + dy });
    }
  }
  const inside = (b: IBox): boolean =>
    b.x0 >= bounds.x0 && b.x1 <= bounds.x1 && b.y0 >= bounds.y0 && b.y1 <= bounds.y1;
  const free = candidates.find(b => inside(b) && !taken.some(t => overlaps(b, t)));
  if (free) {
    return free;
  }
  // Crowded: the first place inside the plot (or the first one), still readable on its own.
  return candidates.find(inside) ?? candidates[0];
}

/** How sizes are shown on the horizontal axis: KB, or MB from 1 MB up. */
function sizeUnit(pts: IPoint[]): { divisor: number; name: string } {
  const largest = Math.max(...pts.map(p => p.size));
  return largest >= 1024 * 1024
    ? { divisor: 1024 * 1024, name: 'MB' }
    : { divisor: 1024, name: 'KB' };
}

/** A tick value as text: thousands separated, no float noise (`1,500`, `0.25`). */
function tickText(v: number): string {
  return Number(v.toPrecision(6)).toLocaleString('en-US', { maximumFractionDigits: 4 });
}

/**
 * The text of a point's tooltip: `int8: 47.2 KB (3.73× smaller), accuracy 96.9% (-0.3 pt),
 * latency 5.1 µs (Pareto front)`; on the RAM axis `int8: RAM 12.5 KB, size 47.2 KB (3.73×
 * smaller), …`.
 *
 * @param row - the variant.
 * @param p - its point.
 * @param axis - what the vertical axis shows.
 * @param pareto - true if the point is on the Pareto front.
 * @param x - what the horizontal axis shows.
 */
export function tooltip(
  row: Row,
  p: IPoint,
  axis: IQualityAxis,
  pareto: boolean,
  x: SizeColumn = 'size_bytes'
): string {
  const size = x === 'size_bytes' ? p.size : num(row, 'size_bytes');
  const parts = [`${variantLabel(row)}: `];
  if (x === 'ram_bytes') {
    parts[0] += `RAM ${formatBytes(p.size)}`;
  }
  if (size !== null) {
    const ratio = num(row, 'size_ratio');
    const shown =
      (x === 'size_bytes' ? '' : 'size ') +
      formatBytes(size) +
      (ratio !== null && ratio !== 1 ? ` (${formatRatio(ratio)} smaller)` : '');
    if (x === 'size_bytes') {
      parts[0] += shown;
    } else {
      parts.push(shown);
    }
  }
  if (axis.column === 'accuracy') {
    const name = typeof row.metric === 'string' ? row.metric : 'metric';
    const delta = formatMetric(row, 'accuracy_delta');
    parts.push(`${name} ${formatMetric(row, 'accuracy')}` + (delta ? ` (${delta})` : ''));
  }
  parts.push(p.latency === null ? 'latency not measured' : `latency ${formatLatency(p.latency)}`);
  return parts.join(', ') + (pareto ? ' (Pareto front)' : '');
}

/**
 * Build the chart: one circle per point, its area growing with latency, the Pareto front
 * marked (class `nbopt-pareto`) and joined by a dashed line. Axes carry units (KB or MB,
 * %, µs or ms); labels are placed where they cover no other label or point.
 *
 * @param rows - the payload's rows (for names and tooltips).
 * @param pts - the points to plot.
 * @param axis - what the vertical axis shows.
 * @param front - indices of the rows on the Pareto front (of `xColumn` and the metric).
 * @param xColumn - what the horizontal axis shows: the .tflite size (default) or the RAM.
 * @returns the `<svg>` element.
 */
export function buildChart(
  rows: Row[],
  pts: IPoint[],
  axis: IQualityAxis,
  front: Set<number>,
  xColumn: SizeColumn = 'size_bytes'
): SVGSVGElement {
  const root = svg('svg', {
    class: 'nbopt-chart',
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    width: WIDTH,
    height: HEIGHT,
    role: 'img'
  });
  const title = svg('title', {});
  title.textContent = `${SIZE_NAMES[xColumn]} against ${axis.label}`;
  root.appendChild(title);

  const accuracy = axis.column === 'accuracy' && rows.some(r => r.metric === 'accuracy');
  const unit = sizeUnit(pts);
  const [x0, x1] = domain(
    pts.map(p => p.size / unit.divisor),
    true
  );
  const [y0, y1] = domain(
    pts.map(p => p.quality),
    false,
    accuracy ? 1 : undefined
  );
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (v: number): number => MARGIN.left + ((v - x0) / (x1 - x0)) * plotW;
  const sy = (v: number): number => MARGIN.top + (1 - (v - y0) / (y1 - y0)) * plotH;

  const axes = svg('g', { class: 'nbopt-axes' });
  axes.appendChild(
    svg('line', {
      x1: MARGIN.left,
      y1: MARGIN.top + plotH,
      x2: MARGIN.left + plotW,
      y2: MARGIN.top + plotH
    })
  );
  axes.appendChild(
    svg('line', { x1: MARGIN.left, y1: MARGIN.top, x2: MARGIN.left, y2: MARGIN.top + plotH })
  );
  for (const t of ticks(x0, x1)) {
    const x = sx(t);
    axes.appendChild(
      svg('line', { x1: x, y1: MARGIN.top + plotH, x2: x, y2: MARGIN.top + plotH + 4 })
    );
    axes.appendChild(
      svgText(x, MARGIN.top + plotH + 16, tickText(t), {
        'text-anchor': 'middle',
        class: 'nbopt-tick nbopt-tick-x'
      })
    );
  }
  for (const t of ticks(y0, y1)) {
    const y = sy(t);
    axes.appendChild(svg('line', { x1: MARGIN.left - 4, y1: y, x2: MARGIN.left, y2: y }));
    const label =
      axis.column === 'latency_ms'
        ? formatLatency(t)
        : accuracy
          ? `${tickText(t * 100)}%`
          : tickText(t);
    axes.appendChild(
      svgText(MARGIN.left - 6, y + 4, label, { 'text-anchor': 'end', class: 'nbopt-tick' })
    );
  }
  axes.appendChild(
    svgText(
      MARGIN.left + plotW / 2,
      HEIGHT - 6,
      `${SIZE_NAMES[xColumn]} (${unit.name}), smaller is better`,
      {
        'text-anchor': 'middle',
        class: 'nbopt-axis-label'
      }
    )
  );
  axes.appendChild(
    svgText(14, MARGIN.top + plotH / 2, axis.label, {
      'text-anchor': 'middle',
      transform: `rotate(-90 14 ${MARGIN.top + plotH / 2})`,
      class: 'nbopt-axis-label'
    })
  );
  root.appendChild(axes);

  const onFront = pts.filter(p => front.has(p.index)).sort((a, b) => a.size - b.size);
  if (onFront.length > 1) {
    root.appendChild(
      svg('polyline', {
        class: 'nbopt-front-line',
        points: onFront.map(p => `${sx(p.size / unit.divisor)},${sy(p.quality)}`).join(' '),
        fill: 'none'
      })
    );
  }

  const maxLatency = Math.max(0, ...pts.map(p => p.latency ?? 0));
  const radius = (p: IPoint): number =>
    maxLatency > 0 && p.latency !== null ? 4 + 8 * Math.sqrt(p.latency / maxLatency) : 5;
  const group = svg('g', { class: 'nbopt-points' });
  const labels = svg('g', { class: 'nbopt-point-labels' });
  // Every point's circle is taken before any label is placed: labels never cover a point.
  const taken: IBox[] = pts.map(p => {
    const x = sx(p.size / unit.divisor);
    const y = sy(p.quality);
    const r = radius(p);
    return { x0: x - r, x1: x + r, y0: y - r, y1: y + r };
  });
  const bounds = {
    x0: MARGIN.left + 2,
    x1: MARGIN.left + plotW,
    y0: MARGIN.top - 4,
    y1: MARGIN.top + plotH
  };
  // Dominated points first, so the front's circles are drawn on top.
  const order = [...pts].sort(
    (a, b) => Number(front.has(a.index)) - Number(front.has(b.index)) || a.size - b.size
  );
  for (const p of order) {
    const row = rows[p.index];
    const scheme = variantLabel(row);
    const r = radius(p);
    const pareto = front.has(p.index);
    const x = sx(p.size / unit.divisor);
    const y = sy(p.quality);
    const circle = svg('circle', {
      cx: Number(x.toFixed(2)),
      cy: Number(y.toFixed(2)),
      r: Number(r.toFixed(2)),
      class: pareto ? 'nbopt-point nbopt-pareto' : 'nbopt-point'
    });
    circle.dataset.index = String(p.index);
    const tip = svg('title', {});
    tip.textContent = tooltip(row, p, axis, pareto, xColumn);
    circle.appendChild(tip);
    group.appendChild(circle);

    const box = placeLabel(x, y, r, textWidth(scheme), taken, bounds);
    taken.push(box);
    labels.appendChild(
      svgText(Number(box.x0.toFixed(2)), Number((box.y1 - 3).toFixed(2)), scheme, {
        class: 'nbopt-point-label'
      })
    );
  }
  root.appendChild(group);
  root.appendChild(labels);

  const legend = svg('g', { class: 'nbopt-legend' });
  const lx = WIDTH - MARGIN.right + 10;
  legend.appendChild(
    svg('circle', { cx: lx + 5, cy: MARGIN.top + 6, r: 5, class: 'nbopt-point nbopt-pareto' })
  );
  legend.appendChild(svgText(lx + 14, MARGIN.top + 10, 'Pareto front'));
  legend.appendChild(
    svg('circle', { cx: lx + 5, cy: MARGIN.top + 26, r: 5, class: 'nbopt-point' })
  );
  legend.appendChild(svgText(lx + 14, MARGIN.top + 30, 'dominated'));
  legend.appendChild(svgText(lx, MARGIN.top + 52, 'circle size:'));
  legend.appendChild(svgText(lx, MARGIN.top + 66, 'latency'));
  root.appendChild(legend);
  return root;
}
