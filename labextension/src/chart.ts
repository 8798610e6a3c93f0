/**
 * The size-against-metric chart: plain SVG built with DOM APIs, values set as text.
 */

import {
  formatBytes,
  formatG,
  formatMetric,
  IPoint,
  IQualityAxis,
  Row,
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

function domain(values: number[], fromZero: boolean): [number, number] {
  let lo = fromZero ? 0 : Math.min(...values);
  let hi = Math.max(...values);
  if (hi === lo) {
    const pad = hi === 0 ? 1 : Math.abs(hi) * 0.05;
    return [fromZero ? 0 : lo - pad, hi + pad];
  }
  const pad = (hi - lo) * 0.1;
  hi += pad;
  lo = fromZero ? 0 : lo - pad;
  return [lo, hi];
}

/**
 * Build the chart: one circle per point, its area growing with latency, the Pareto front
 * marked (class `nbopt-pareto`) and joined by a dashed line.
 *
 * @param rows - the payload's rows (for names and tooltips).
 * @param pts - the points to plot.
 * @param axis - what the vertical axis shows.
 * @param front - indices of the rows on the Pareto front.
 * @returns the `<svg>` element.
 */
export function buildChart(
  rows: Row[],
  pts: IPoint[],
  axis: IQualityAxis,
  front: Set<number>
): SVGSVGElement {
  const root = svg('svg', {
    class: 'nbopt-chart',
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    width: WIDTH,
    height: HEIGHT,
    role: 'img'
  });
  const title = svg('title', {});
  title.textContent = `size against ${axis.label}`;
  root.appendChild(title);

  const accuracy = axis.column === 'accuracy' && rows.some(r => r.metric === 'accuracy');
  const [x0, x1] = domain(
    pts.map(p => p.size / 1024),
    true
  );
  const [y0, y1] = domain(
    pts.map(p => p.quality),
    false
  );
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (kb: number): number => MARGIN.left + ((kb - x0) / (x1 - x0)) * plotW;
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
    axes.appendChild(svgText(x, MARGIN.top + plotH + 16, formatG(t), { 'text-anchor': 'middle' }));
  }
  for (const t of ticks(y0, y1)) {
    const y = sy(t);
    axes.appendChild(svg('line', { x1: MARGIN.left - 4, y1: y, x2: MARGIN.left, y2: y }));
    const label = accuracy ? `${formatG(t * 100)}%` : formatG(t);
    axes.appendChild(svgText(MARGIN.left - 6, y + 4, label, { 'text-anchor': 'end' }));
  }
  axes.appendChild(
    svgText(MARGIN.left + plotW / 2, HEIGHT - 6, 'size KB (smaller is better)', {
      'text-anchor': 'middle',
      class: 'nbopt-axis-label'
    })
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
        points: onFront.map(p => `${sx(p.size / 1024)},${sy(p.quality)}`).join(' '),
        fill: 'none'
      })
    );
  }

  const maxLatency = Math.max(0, ...pts.map(p => p.latency ?? 0));
  const group = svg('g', { class: 'nbopt-points' });
  const labels = svg('g', { class: 'nbopt-point-labels' });
  const placed: { x0: number; x1: number; y: number }[] = [];
  // Dominated points first, so the front's circles are drawn on top.
  const order = [...pts].sort(
    (a, b) => Number(front.has(a.index)) - Number(front.has(b.index)) || a.size - b.size
  );
  for (const p of order) {
    const row = rows[p.index];
    const scheme = variantLabel(row);
    const r = maxLatency > 0 && p.latency !== null ? 4 + 8 * Math.sqrt(p.latency / maxLatency) : 5;
    const pareto = front.has(p.index);
    const x = sx(p.size / 1024);
    const y = sy(p.quality);
    const circle = svg('circle', {
      cx: x,
      cy: y,
      r: Number(r.toFixed(2)),
      class: pareto ? 'nbopt-point nbopt-pareto' : 'nbopt-point'
    });
    circle.dataset.index = String(p.index);
    const tip = svg('title', {});
    const quality =
      axis.column === 'accuracy' ? formatMetric(row, 'accuracy') : `${formatG(p.quality)} ms`;
    const latency = p.latency === null ? 'latency not measured' : `${formatG(p.latency)} ms`;
    tip.textContent =
      `${scheme}: ${formatBytes(p.size)}, ${quality}, ${latency}` +
      (pareto ? ' (Pareto front)' : '');
    circle.appendChild(tip);
    group.appendChild(circle);

    // Labels of close points would overprint: move a label down until it is clear.
    const x0 = x + r + 3;
    const x1 = x0 + 6.5 * scheme.length;
    let ly = y + 4;
    while (placed.some(b => b.x0 < x1 && x0 < b.x1 && Math.abs(b.y - ly) < 12)) {
      ly += 12;
    }
    placed.push({ x0, x1, y: ly });
    labels.appendChild(svgText(x0, ly, scheme, { class: 'nbopt-point-label' }));
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
