/**
 * The sortable results table. Every payload value reaches the DOM through `textContent`.
 */

import {
  formatBytes,
  formatLatency,
  formatMetric,
  formatRatio,
  formatShare,
  metricName,
  num,
  Row,
  text,
  variantLabel
} from './payload';

/** One column of the table: what it reads, how it shows it, and how it sorts. */
export interface ITableColumn {
  /** The payload column the table sorts by. */
  key: string;
  /** The heading. */
  heading: string;
  /** Numeric columns sort by value and are right-aligned. */
  numeric: boolean;
  /** The cell's text. */
  format: (row: Row) => string;
}

function numberCell(key: string, fmt: (v: number) => string): (row: Row) => string {
  return row => {
    const v = num(row, key);
    return v === null ? '' : fmt(v);
  };
}

/**
 * The table's columns, the metric's heading named after the payload's metric; RAM, sparsity
 * and distinct values only when some variant has them (pruning, clustering).
 *
 * @param rows - the payload's rows.
 */
export function tableColumns(rows: Row[]): ITableColumn[] {
  const has = (key: string): boolean => rows.some(r => num(r, key) !== null);
  const optional: ITableColumn[] = [
    {
      key: 'sparsity',
      heading: 'sparsity',
      numeric: true,
      format: numberCell('sparsity', formatShare)
    },
    {
      key: 'max_distinct_values',
      heading: 'distinct values',
      numeric: true,
      format: numberCell('max_distinct_values', v => Math.round(v).toLocaleString('en-US'))
    }
  ];
  return [
    { key: 'scheme', heading: 'variant', numeric: false, format: r => variantLabel(r) },
    { key: 'status', heading: 'status', numeric: false, format: r => text(r, 'status') },
    {
      key: 'size_bytes',
      heading: 'size',
      numeric: true,
      format: numberCell('size_bytes', formatBytes)
    },
    {
      key: 'size_ratio',
      heading: 'smaller',
      numeric: true,
      format: numberCell('size_ratio', formatRatio)
    },
    {
      key: 'gzip_bytes',
      heading: 'gzip',
      numeric: true,
      format: numberCell('gzip_bytes', formatBytes)
    },
    ...(has('ram_bytes')
      ? [
          {
            key: 'ram_bytes',
            heading: 'RAM',
            numeric: true,
            format: numberCell('ram_bytes', formatBytes)
          }
        ]
      : []),
    {
      key: 'latency_ms',
      heading: 'latency',
      numeric: true,
      format: numberCell('latency_ms', formatLatency)
    },
    {
      key: 'latency_p90_ms',
      heading: 'p90',
      numeric: true,
      format: numberCell('latency_p90_ms', formatLatency)
    },
    {
      key: 'speedup',
      heading: 'speedup',
      numeric: true,
      format: numberCell('speedup', formatRatio)
    },
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
    ...optional.filter(column => has(column.key))
  ];
}

/** The direction a column is sorted in. */
export type SortDirection = 'ascending' | 'descending';

/**
 * The rows' indices in sorted order; missing values last in either direction, ties in
 * measurement order.
 *
 * @param rows - the payload's rows.
 * @param column - the column to sort by.
 * @param direction - ascending or descending.
 */
export function sortedIndices(
  rows: Row[],
  column: ITableColumn,
  direction: SortDirection
): number[] {
  const sign = direction === 'ascending' ? 1 : -1;
  const key = (row: Row): number | string | null => {
    if (column.numeric) {
      return num(row, column.key);
    }
    const t = text(row, column.key);
    return t === '' ? null : t;
  };
  return rows
    .map((row, index) => ({ index, value: key(row) }))
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

/**
 * Build the results table. Clicking a heading sorts by that column; clicking again reverses.
 *
 * @param rows - the payload's rows.
 * @param front - indices of the rows on the Pareto front, marked in the first column.
 * @returns the `<table>` element.
 */
export function buildTable(rows: Row[], front: Set<number>): HTMLTableElement {
  const columns = tableColumns(rows);
  const table = document.createElement('table');
  table.className = 'nbopt-table';
  const thead = table.createTHead();
  const headRow = thead.insertRow();
  const marker = document.createElement('th');
  marker.className = 'nbopt-marker-col';
  marker.textContent = '◆';
  headRow.appendChild(marker);
  const tbody = table.createTBody();
  const bodyRows = rows.map((row, index) => {
    const tr = document.createElement('tr');
    const status = text(row, 'status');
    tr.className = `nbopt-row nbopt-status-${/^[a-z]+$/.test(status) ? status : 'other'}`;
    tr.dataset.index = String(index);
    const error = text(row, 'error');
    if (error) {
      tr.title = error;
    }
    tr.insertCell().className = 'nbopt-marker-col';
    for (const column of columns) {
      const td = tr.insertCell();
      td.textContent = column.format(row);
      if (column.numeric) {
        td.className = 'nbopt-num';
      }
    }
    return tr;
  });
  bodyRows.forEach(tr => tbody.appendChild(tr));
  markFront(table, front, 'size');

  const headers: HTMLTableCellElement[] = [];
  columns.forEach(column => {
    const th = document.createElement('th');
    th.setAttribute('aria-sort', 'none');
    if (column.numeric) {
      th.className = 'nbopt-num';
    }
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'nbopt-sort';
    button.textContent = column.heading;
    button.title = `sort by ${column.heading}`;
    button.addEventListener('click', () => {
      const direction: SortDirection =
        th.getAttribute('aria-sort') === 'ascending' ? 'descending' : 'ascending';
      headers.forEach(h => h.setAttribute('aria-sort', 'none'));
      th.setAttribute('aria-sort', direction);
      for (const index of sortedIndices(rows, column, direction)) {
        tbody.appendChild(bodyRows[index]);
      }
    });
    th.appendChild(button);
    headers.push(th);
    headRow.appendChild(th);
  });
  return table;
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
