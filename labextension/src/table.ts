/**
 * The sortable results table, drawn from the cells Python formatted. Every payload value
 * reaches the DOM through `textContent`.
 */

import { IComparison, num, str } from './model';

/** The direction a column is sorted in. */
export type SortDirection = 'ascending' | 'descending';

/**
 * The rows' indices sorted by column `column` of the table: numbers by the rows' raw
 * values, text by the cells; missing values last in either direction, ties in measurement
 * order.
 *
 * @param comparison - the comparison.
 * @param column - the column's index among the table's headings.
 * @param direction - ascending or descending.
 */
export function sortedIndices(
  comparison: IComparison,
  column: number,
  direction: SortDirection
): number[] {
  const { table, rows } = comparison;
  const sign = direction === 'ascending' ? 1 : -1;
  const key = table.keys[column];
  const value = (index: number): number | string | null => {
    if (table.numeric[column]) {
      return rows[index] ? num(rows[index], key) : null;
    }
    const t = table.cells[index][column] ?? '';
    return t === '' ? null : t;
  };
  return table.cells
    .map((_, index) => ({ index, value: value(index) }))
    .sort((a, b) => {
      if (a.value === null || b.value === null) {
        return a.value === b.value ? a.index - b.index : a.value === null ? 1 : -1;
      }
      const c =
        typeof a.value === 'number' && typeof b.value === 'number'
          ? a.value - b.value
          : String(a.value).localeCompare(String(b.value));
      return c === 0 ? a.index - b.index : sign * c;
    })
    .map(entry => entry.index);
}

function bodyRow(comparison: IComparison, index: number): HTMLTableRowElement {
  const { table } = comparison;
  const tr = document.createElement('tr');
  const status = table.statuses[index];
  tr.className = `nbopt-row nbopt-status-${/^[a-z]+$/.test(status) ? status : 'other'}`;
  tr.dataset.index = String(index);
  const error = str(comparison.rows[index]?.error);
  if (error) {
    tr.title = error;
  }
  tr.insertCell().className = 'nbopt-marker-col';
  table.headings.forEach((_, i) => {
    const td = tr.insertCell();
    td.textContent = table.cells[index][i] ?? '';
    td.className = i === 0 ? 'nbopt-variant-col' : table.numeric[i] ? 'nbopt-num' : '';
  });
  return tr;
}

/**
 * Build the results table: a ◆ column (the Pareto front), then Python's columns. Clicking
 * a heading sorts by that column; clicking again reverses.
 *
 * @param comparison - the comparison (its table's headings and cells, its raw rows).
 * @param front - indices of the rows on the Pareto front, marked in the first column.
 * @param against - what the front weighs against the metric (`size`, `RAM`).
 * @returns the `<table>` element.
 */
export function buildTable(
  comparison: IComparison,
  front: Set<number>,
  against = 'size'
): HTMLTableElement {
  const { table } = comparison;
  const el = document.createElement('table');
  el.className = 'nbopt-table';
  const headRow = el.createTHead().insertRow();
  const marker = document.createElement('th');
  marker.className = 'nbopt-marker-col';
  marker.textContent = '◆';
  headRow.appendChild(marker);
  const tbody = el.createTBody();
  const bodyRows = table.cells.map((_, index) => bodyRow(comparison, index));
  bodyRows.forEach(tr => tbody.appendChild(tr));
  if (table.pending) {
    const td = tbody.insertRow().insertCell();
    td.colSpan = table.headings.length + 1;
    td.className = 'nbopt-pending';
    td.textContent = `${table.pending}…`;
  }
  markFront(el, front, against);

  const headers: HTMLTableCellElement[] = [];
  table.headings.forEach((heading, column) => {
    const th = document.createElement('th');
    th.setAttribute('aria-sort', 'none');
    th.className = column === 0 ? 'nbopt-variant-col' : table.numeric[column] ? 'nbopt-num' : '';
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'nbopt-sort';
    button.textContent = heading;
    button.title = `sort by ${heading}`;
    button.addEventListener('click', () => {
      const direction: SortDirection =
        th.getAttribute('aria-sort') === 'ascending' ? 'descending' : 'ascending';
      headers.forEach(h => h.setAttribute('aria-sort', 'none'));
      th.setAttribute('aria-sort', direction);
      const pending = tbody.querySelector('.nbopt-pending')?.parentElement;
      for (const index of sortedIndices(comparison, column, direction)) {
        tbody.appendChild(bodyRows[index]);
      }
      if (pending) {
        tbody.appendChild(pending);
      }
    });
    th.appendChild(button);
    headers.push(th);
    headRow.appendChild(th);
  });
  return el;
}

/**
 * Mark the rows of `front` with ◆ (class `nbopt-pareto`) and clear the others' marks.
 *
 * @param table - a table made by {@link buildTable}.
 * @param front - indices of the rows on the Pareto front.
 * @param against - what the front weighs against the metric (`size`, `RAM`).
 */
export function markFront(table: HTMLTableElement, front: Set<number>, against: string): void {
  const head = table.tHead?.rows[0]?.cells[0];
  if (head) {
    head.title = `on the Pareto front of ${against} and metric`;
  }
  for (const tr of Array.from(table.tBodies[0]?.rows ?? [])) {
    if (tr.dataset.index === undefined) {
      continue;
    }
    const on = front.has(Number(tr.dataset.index));
    const mark = tr.cells[0];
    tr.classList.toggle('nbopt-pareto', on);
    mark.textContent = on ? '◆' : '';
    if (on) {
      mark.title = 'on the Pareto front';
    } else {
      mark.removeAttribute('title');
    }
  }
}
