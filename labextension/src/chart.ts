/**
 * The comparison chart, drawn from its layout: plain SVG built with DOM APIs, every payload
 * text set as `textContent` or as an attribute of an element made here. The layout (where
 * each marker and label goes, which variants share a marker, whether the axis is log) is
 * Python's (`nbopt/display/chart.py`); this file only draws it and shows tooltips.
 */

import { COORDINATES, IChart, IChartItem } from './model';

const SVG_NS = 'http://www.w3.org/2000/svg';

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

/**
 * One drawing item as an SVG element. An item with a tooltip gets it as its `aria-label`
 * (shown by {@link attachTooltips}); a marker can take the keyboard's focus.
 *
 * @param item - a validated chart item.
 */
export function drawItem(item: IChartItem): SVGElement {
  const attrs: { [name: string]: string | number } = { class: item.cls };
  for (const name of COORDINATES) {
    if (item.at[name] !== undefined) {
      attrs[name] = item.at[name];
    }
  }
  if (item.el === 'polyline') {
    attrs.points = (item.points ?? []).map(p => p.join(',')).join(' ');
  }
  if (item.el === 'text') {
    attrs['text-anchor'] = item.anchor ?? 'start';
    if (item.rotate !== undefined) {
      attrs.transform = `rotate(${item.rotate} ${item.at.x ?? 0} ${item.at.y ?? 0})`;
    }
  }
  if (item.rows !== undefined) {
    attrs['data-rows'] = item.rows.join(' ');
  }
  const el = svg(item.el, attrs);
  if (item.el === 'text') {
    el.textContent = item.text ?? '';
  }
  if (item.tip) {
    el.setAttribute('aria-label', item.tip);
    el.classList.add('nbopt-has-tip');
    if (item.el === 'circle') {
      el.setAttribute('tabindex', '0');
      el.setAttribute('role', 'img');
    }
  }
  return el;
}

/**
 * Draw a chart: an `<svg>` holding its items in order.
 *
 * @param chart - the chart's layout.
 * @returns the `<svg>` element (class `nbopt-chart`, `data-x` its horizontal axis).
 */
export function drawChart(chart: IChart): SVGSVGElement {
  const root = svg('svg', {
    class: 'nbopt-chart',
    viewBox: `0 0 ${chart.width} ${chart.height}`,
    width: chart.width,
    height: chart.height,
    role: 'img',
    'data-x': chart.x
  });
  const title = svg('title', {});
  title.textContent = chart.title;
  root.appendChild(title);
  for (const item of chart.items) {
    root.appendChild(drawItem(item));
  }
  return root;
}

function rowsOf(el: Element): string[] {
  return (el.getAttribute('data-rows') ?? '').split(' ').filter(r => r !== '');
}

/**
 * Show an item's tooltip while the pointer is over it or it has the focus, in `tooltip`
 * (an element of `box`), and mark the items of the same variants (`nbopt-active`): a label
 * lights up its marker, a marker its labels.
 *
 * @param box - the element holding the chart (positioned: the tooltip is placed in it).
 * @param tooltip - the tooltip element.
 */
export function attachTooltips(box: HTMLElement, tooltip: HTMLElement): void {
  const show = (event: Event): void => {
    const target = (event.target as Element | null)?.closest?.('.nbopt-has-tip');
    if (!target || !box.contains(target)) {
      return;
    }
    tooltip.textContent = target.getAttribute('aria-label') ?? '';
    tooltip.hidden = false;
    // Right of the item, or left of it where the box ends, or at the box's left edge.
    const area = box.getBoundingClientRect();
    const at = target.getBoundingClientRect();
    const width = tooltip.offsetWidth;
    let left = at.right - area.left + 6;
    if (left + width > area.width) {
      left = Math.max(0, Math.min(at.left - area.left - 6 - width, area.width - width));
    }
    tooltip.style.left = `${Math.round(left)}px`;
    tooltip.style.top = `${Math.round(at.bottom - area.top + 4)}px`;
    const rows = rowsOf(target);
    box.querySelectorAll('[data-rows]').forEach(el => {
      el.classList.toggle(
        'nbopt-active',
        rowsOf(el).some(r => rows.includes(r))
      );
    });
  };
  const hide = (): void => {
    tooltip.hidden = true;
    box.querySelectorAll('.nbopt-active').forEach(el => el.classList.remove('nbopt-active'));
  };
  box.addEventListener('mouseover', show);
  box.addEventListener('focusin', show);
  box.addEventListener('mouseout', hide);
  box.addEventListener('focusout', hide);
}
