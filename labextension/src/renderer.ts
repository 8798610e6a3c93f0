/**
 * The MIME renderer of nbopt comparisons: a caption, a search's pick (its reason and
 * magic line), the sortable table (scrolling inside
 * itself, its variant column fixed), the call-outs, errors and numbered notes under it, and
 * the chart, built from the saved output alone (no kernel needed).
 */

import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import { attachTooltips, drawChart } from './chart';
import { IChart, IComparison, IPick } from './model';
import { COMPARISON_MIME, readComparison } from './payload';
import { buildTable, markFront } from './table';

/** CSS class of the renderer's node. */
export const RENDERER_CLASS = 'nbopt-comparison';

function div(className: string, text?: string): HTMLDivElement {
  const el = document.createElement('div');
  el.className = className;
  if (text !== undefined) {
    el.textContent = text;
  }
  return el;
}

/**
 * What goes under the table: the accuracy drops (⚠), the failed variants' errors (the
 * variant in bold) and the numbered notes.
 *
 * @param comparison - the comparison.
 */
export function underTable(comparison: IComparison): HTMLElement[] {
  const { table } = comparison;
  const out: HTMLElement[] = table.callouts.map(c => div('nbopt-drop', `⚠ ${c}`));
  if (table.errors.length > 0) {
    const list = document.createElement('ul');
    list.className = 'nbopt-errors';
    for (const error of table.errors) {
      const cut = error.indexOf(': ');
      const item = document.createElement('li');
      const head = document.createElement('b');
      head.textContent = cut < 0 ? error : error.slice(0, cut);
      item.appendChild(head);
      if (cut >= 0) {
        item.appendChild(document.createTextNode(error.slice(cut)));
      }
      list.appendChild(item);
    }
    out.push(list);
  }
  if (table.notes.length > 0) {
    const notes = div('nbopt-notes');
    table.notes.forEach(note => notes.appendChild(div('nbopt-note', note)));
    out.push(notes);
  }
  return out;
}

/**
 * A search's pick: `pick: int4.` in bold, the reason, the magic line that reproduces it, and
 * the search's decisions.
 *
 * @param pick - the pick.
 */
export function pickBox(pick: IPick): HTMLDivElement {
  const box = div('nbopt-pick');
  const head = document.createElement('b');
  head.textContent = pick.label === null ? 'no pick.' : `pick: ${pick.label}.`;
  box.append(head, ` ${pick.reason}`);
  if (pick.line !== null) {
    const pre = document.createElement('pre');
    const code = document.createElement('code');
    code.textContent = pick.line;
    pre.appendChild(code);
    box.appendChild(pre);
  }
  if (pick.trail.length > 0) {
    const list = document.createElement('ul');
    list.className = 'nbopt-trail';
    for (const step of pick.trail) {
      const item = document.createElement('li');
      item.textContent = step;
      list.appendChild(item);
    }
    box.appendChild(list);
  }
  return box;
}

/**
 * Render a comparison into `host`, replacing what it held.
 *
 * Every payload value is set as `textContent` or as an attribute of an element this code
 * created: nothing from the payload is parsed as HTML or executed.
 *
 * @param host - the element to fill.
 * @param comparison - the validated payload.
 */
export function renderComparison(host: HTMLElement, comparison: IComparison): void {
  host.replaceChildren();
  host.appendChild(div('nbopt-caption', comparison.caption));
  if (comparison.pick !== null) {
    host.appendChild(pickBox(comparison.pick));
  }
  const body = div('nbopt-body');
  const column = div('nbopt-table-column');
  const scroll = div('nbopt-table-box');
  const first = comparison.charts[0];
  const table = buildTable(comparison, new Set(first?.frontRows ?? []), first?.name ?? 'size');
  scroll.appendChild(table);
  column.appendChild(scroll);
  underTable(comparison).forEach(el => column.appendChild(el));
  body.appendChild(column);
  if (comparison.charts.length > 0) {
    // The table's ◆ marks follow the chart's axis: the front of size, or of RAM.
    const onAxis = (chart: IChart): void => markFront(table, new Set(chart.frontRows), chart.name);
    body.appendChild(chartBox(comparison.charts, onAxis));
  }
  host.appendChild(body);
}

/**
 * The first chart and, when there are several (size and RAM), a toggle button per chart
 * above it that shows that one instead; a tooltip that names the variants under the pointer.
 *
 * @param charts - the charts, the first shown first.
 * @param onAxis - called with the chart a button shows.
 * @returns the `<div>` holding the buttons, the chart and the tooltip.
 */
export function chartBox(charts: IChart[], onAxis?: (chart: IChart) => void): HTMLDivElement {
  const box = div('nbopt-chart-box');
  const tooltip = div('nbopt-tooltip');
  tooltip.setAttribute('role', 'tooltip');
  tooltip.hidden = true;
  let shown = drawChart(charts[0]);
  if (charts.length > 1) {
    const control = div('nbopt-chart-x');
    control.setAttribute('role', 'group');
    control.setAttribute('aria-label', 'horizontal axis');
    const buttons = charts.map((chart, i) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'nbopt-chart-x-button';
      button.dataset.column = chart.x;
      button.textContent = chart.name;
      button.title = `plot ${chart.name} against the metric`;
      button.setAttribute('aria-pressed', String(i === 0));
      button.addEventListener('click', () => {
        buttons.forEach(b => b.setAttribute('aria-pressed', String(b === button)));
        const next = drawChart(chart);
        shown.replaceWith(next);
        shown = next;
        tooltip.hidden = true;
        onAxis?.(chart);
      });
      control.appendChild(button);
      return button;
    });
    box.appendChild(control);
  }
  box.appendChild(shown);
  box.appendChild(tooltip);
  attachTooltips(box, tooltip);
  return box;
}

/** A widget that renders {@link COMPARISON_MIME} output. */
export class ComparisonRenderer extends Widget implements IRenderMime.IRenderer {
  /**
   * Construct a renderer.
   *
   * @param options - the factory's options (the MIME type to render).
   */
  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this._mimeType = options.mimeType;
    this.addClass(RENDERER_CLASS);
  }

  /**
   * Render the model's payload; an unreadable payload shows a one-line notice instead.
   *
   * @param model - the output's MIME model.
   */
  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const comparison = readComparison(model.data[this._mimeType]);
    if (comparison === null) {
      const notice = div(
        'nbopt-caption',
        'nbopt: this output holds no comparison this extension can read.'
      );
      this.node.replaceChildren(notice);
    } else {
      renderComparison(this.node, comparison);
    }
    return Promise.resolve();
  }

  private _mimeType: string;
}

/** Creates {@link ComparisonRenderer}s; ranked before text/html (50) so it wins over the HTML fallback. */
export const rendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [COMPARISON_MIME],
  defaultRank: 20,
  createRenderer: options => new ComparisonRenderer(options)
};
