/**
 * Outputs saved before payload version 2 still render: a real version-1 payload, and
 * version-1 payloads built here, shown as the extension showed them then.
 */

import { readComparison } from '../src/payload';
import { renderComparison } from '../src/renderer';
import {
  formatBytes,
  formatLatency,
  formatMetric,
  formatRatio,
  variantLabel
} from '../src/version1-format';
import { digitsPayload, row, saved } from './fixtures';

function render(data: unknown): HTMLElement {
  const host = document.createElement('div');
  renderComparison(host, readComparison(data)!);
  return host;
}

function bodyTexts(host: HTMLElement): string[][] {
  return Array.from(host.querySelectorAll('tbody tr')).map(tr =>
    Array.from(tr.querySelectorAll('td')).map(td => td.textContent ?? '')
  );
}

/** Each circle's variant (from its tooltip), centre and Pareto mark. */
function circles(host: HTMLElement): { scheme: string; x: number; y: number; pareto: boolean }[] {
  return Array.from(host.querySelectorAll('svg.nbopt-chart circle[data-rows]')).map(c => ({
    scheme: (c.getAttribute('aria-label') ?? '').split(':')[0],
    x: Number(c.getAttribute('cx')),
    y: Number(c.getAttribute('cy')),
    pareto: c.classList.contains('nbopt-pareto')
  }));
}

function labelBoxes(host: HTMLElement): { x0: number; x1: number; y0: number; y1: number }[] {
  return Array.from(host.querySelectorAll('.nbopt-point-label')).map(t => {
    const x = Number(t.getAttribute('x'));
    const y = Number(t.getAttribute('y'));
    return { x0: x, x1: x + 6.8 * (t.textContent ?? '').length, y0: y - 9, y1: y + 3 };
  });
}

type Box = ReturnType<typeof labelBoxes>[0];
const overlap = (a: Box, b: Box): boolean =>
  a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

describe('a real version-1 payload (the quick start, saved by nbopt before version 2)', () => {
  it('shows its table as it did: every row, its cells formatted here', () => {
    const host = render(saved('quickstart.v1'));
    expect(host.querySelector('.nbopt-caption')?.textContent).toBe('nbopt: model · 5 variants');
    const cells = bodyTexts(host);
    expect(cells.map(c => c[1])).toEqual(['float32', 'float16', 'dynamic', 'int8', 'int16x8']);
    expect(cells[0].slice(1, 12)).toEqual([
      'float32',
      'ok',
      '603.3 KB',
      '1.00×',
      '556.1 KB',
      '9.0 KB',
      '8.1 µs',
      '8.3 µs',
      '1.00×',
      '96.1%',
      '+0.0 pt'
    ]);
    expect(cells.filter(c => c[0] === '◆').map(c => c[1])).toEqual(['dynamic']);
    expect(host.querySelector('.nbopt-notes')).toBeNull(); // version 1 carried no notes
  });

  it('draws a circle per variant with its tooltip, against size and against RAM', () => {
    const host = render(saved('quickstart.v1'));
    // Dominated first by size, then the front: its circles are drawn on top.
    expect(circles(host).map(c => c.scheme)).toEqual([
      'int8',
      'int16x8',
      'float16',
      'float32',
      'dynamic'
    ]);
    const tips = Array.from(host.querySelectorAll('svg.nbopt-chart circle[data-rows]')).map(c =>
      c.getAttribute('aria-label')
    );
    expect(tips).toContain(
      'int8: 158.8 KB (3.80× smaller), accuracy 96.1% (+0.0 pt), latency 3.5 µs'
    );
    host.querySelectorAll<HTMLButtonElement>('.nbopt-chart-x-button')[1].click();
    expect(host.querySelector('.nbopt-axis-label')?.textContent).toBe(
      'RAM (KB), smaller is better'
    );
    expect(
      circles(host)
        .filter(c => c.pareto)
        .map(c => c.scheme)
    ).toEqual(['int8']);
  });
});

describe('version-1 payloads built here', () => {
  it('show one table row per variant with formatted cells and errors below', () => {
    const host = render(digitsPayload());
    const cells = bodyTexts(host);
    expect(cells).toHaveLength(5);
    expect(cells[2].slice(0, 4)).toEqual(['◆', 'dynamic', 'ok', '45.3 KB']);
    expect(cells[4].slice(1, 4)).toEqual(['int16x8', 'failed', '']);
    expect(host.querySelector('.nbopt-errors')?.textContent).toBe(
      'int16x8: no_integer_overflow_from_quantization'
    );
    expect(host.querySelector('tbody tr[data-index="4"]')?.getAttribute('title')).toBe(
      'no_integer_overflow_from_quantization'
    );
  });

  it('keep eight crowded labels apart and inside the plot', () => {
    const names = ['float32', 'float16', 'dynamic', 'int8', 'int16x8', 'qat', 'prune', 'cluster'];
    const rows = names.map((scheme, i) =>
      row(scheme, {
        technique: ['qat', 'prune', 'cluster'].includes(scheme) ? scheme : 'ptq',
        size_bytes: 150000 + 2000 * (i % 4),
        latency_ms: 0.01 + 0.001 * i,
        accuracy: 0.93 + 0.001 * (i % 3)
      })
    );
    const boxes = labelBoxes(render({ version: 1, name: 'm', done: true, rows }));
    expect(boxes).toHaveLength(8);
    boxes.forEach((a, i) => boxes.slice(i + 1).forEach(b => expect(overlap(a, b)).toBe(false)));
    boxes.forEach(a => {
      expect(a.x0).toBeGreaterThanOrEqual(64);
      expect(a.x1).toBeLessThanOrEqual(520 - 96);
    });
  });

  it('treat lower mse as better, and plot latency when no metric was measured', () => {
    const mse = [
      row('float32', { metric: 'mse', size_bytes: 400, accuracy: 0.1 }),
      row('float16', { metric: 'mse', size_bytes: 200, accuracy: 0.1 }),
      row('int8', { metric: 'mse', size_bytes: 100, accuracy: 0.5 }),
      row('dynamic', { metric: 'mse', size_bytes: 100, accuracy: 0.7 })
    ];
    const c = readComparison({ version: 1, name: 'm', rows: mse })!;
    expect(c.higherIsBetter).toBe(false);
    expect(c.charts[0].frontRows).toEqual([1, 2]);
    const latency = [
      row('float32', { size_bytes: 400, latency_ms: 1, metric: null }),
      row('int8', { size_bytes: 100, latency_ms: 2, metric: null })
    ];
    const l = readComparison({ version: 1, name: 'm', rows: latency })!;
    expect(l.charts[0].title).toBe('size against latency (lower is better)');
    expect(l.charts[0].frontRows).toEqual([0, 1]);
  });

  it('are written as Python wrote them then', () => {
    expect(formatBytes(175720)).toBe('171.6 KB');
    expect(formatBytes(2304)).toBe('2.2 KB'); // ties to the even digit
    expect(formatBytes(2359296)).toBe('2.25 MB');
    expect(formatBytes(812)).toBe('812 B');
    const r = row('int8', { accuracy: 0.9667, accuracy_delta: -0.0055 });
    expect(formatMetric(r, 'accuracy')).toBe('96.7%');
    expect(formatMetric(r, 'accuracy_delta')).toBe('-0.5 pt');
    expect(formatMetric(row('x', { accuracy_delta: -0.0005 }), 'accuracy_delta')).toBe('-0.05 pt');
    expect(formatLatency(0.005127)).toBe('5.1 µs');
    expect(formatLatency(153.4)).toBe('153 ms');
    expect(formatLatency(1250)).toBe('1.25 s');
    expect(formatRatio(3.787)).toBe('3.79×');
    expect(variantLabel({ technique: 'cluster', scheme: 'int8' })).toBe('cluster+int8');
    expect(variantLabel({ technique: 'prune', scheme: 'float32' })).toBe('prune');
  });
});
