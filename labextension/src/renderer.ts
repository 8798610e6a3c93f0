/**
 * The MIME renderer of nbopt comparisons: a caption, the sortable table, the chart and the
 * errors, built from the saved output alone (no kernel needed).
 */

import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import { buildChart } from './chart';
import {
  COMPARISON_MIME,
  IComparison,
  paretoFront,
  points,
  qualityAxis,
  readComparison,
  Row,
  SIZE_NAMES,
  SizeColumn,
  sizeColumns,
  text,
  variantLabel
} from './payload';
import { buildTable, markFront } from './table';

/** CSS class of the renderer's node. */
export const RENDERER_CLASS = 'nbopt-comparison';

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
  const { rows } = comparison;
  const caption = document.createElement('div');
  caption.className = 'nbopt-caption';
  caption.textContent =
    `nbopt: ${comparison.name}` +
    (comparison.done ? '' : ' (running)') +
    ` · ${rows.length} ${rows.length === 1 ? 'variant' : 'variants'}`;
  host.appendChild(caption);

  const axis = qualityAxis(rows);
  const pts = points(rows, axis);
  const front = paretoFront(pts, axis.higherIsBetter);

  const body = document.createElement('div');
  body.className = 'nbopt-body';
  const tableBox = document.createElement('div');
  tableBox.className = 'nbopt-table-box';
  const table = buildTable(rows, front);
  tableBox.appendChild(table);
  body.appendChild(tableBox);
  if (pts.length > 0) {
    // The table's ◆ marks follow the chart's axis: the front of size, or of RAM.
    body.appendChild(chartBox(rows, (x, onFront) => markFront(table, onFront, SIZE_NAMES[x])));
  }
  host.appendChild(body);

  const failed = rows.filter(r => text(r, 'error') !== '');
  if (failed.length > 0) {
    const list = document.createElement('ul');
    list.className = 'nbopt-errors';
    for (const row of failed) {
      const item = document.createElement('li');
      const scheme = document.createElement('b');
      scheme.textContent = variantLabel(row);
      item.appendChild(scheme);
      item.appendChild(document.createTextNode(`: ${text(row, 'error')}`));
      list.appendChild(item);
    }
    host.appendChild(list);
  }
}

/**
 * The chart of `rows` against size and, when some variant has its RAM, two toggle buttons
 * above it (`size`, `RAM`) that redraw it against the chosen one, Pareto front included.
 *
 * @param rows - the payload's rows (some ok variant has a size and a quality).
 * @param onAxis - called with the new axis and its Pareto front when a button redraws it.
 * @returns the `<div>` holding the buttons and the chart.
 */
export function chartBox(
  rows: Row[],
  onAxis?: (x: SizeColumn, front: Set<number>) => void
): HTMLDivElement {
  const box = document.createElement('div');
  box.className = 'nbopt-chart-box';
  const axis = qualityAxis(rows);
  const draw = (x: SizeColumn): SVGSVGElement => {
    const pts = points(rows, axis, x);
    const front = paretoFront(pts, axis.higherIsBetter);
    onAxis?.(x, front);
    return buildChart(rows, pts, axis, front, x);
  };
  let chart = draw('size_bytes');
  const columns = sizeColumns(rows);
  if (columns.length > 1) {
    const control = document.createElement('div');
    control.className = 'nbopt-chart-x';
    control.setAttribute('role', 'group');
    control.setAttribute('aria-label', 'horizontal axis');
    const buttons = columns.map(column => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'nbopt-chart-x-button';
      button.dataset.column = column;
      button.textContent = SIZE_NAMES[column];
      button.title = `plot ${SIZE_NAMES[column]} against the metric`;
      button.setAttribute('aria-pressed', String(column === 'size_bytes'));
      button.addEventListener('click', () => {
        buttons.forEach(b => b.setAttribute('aria-pressed', String(b === button)));
        const next = draw(column);
        chart.replaceWith(next);
        chart = next;
      });
      control.appendChild(button);
      return button;
    });
    box.appendChild(control);
  }
  box.appendChild(chart);
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
      const notice = document.createElement('div');
      notice.className = 'nbopt-caption';
      notice.textContent = 'nbopt: this output holds no comparison this extension can read.';
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
