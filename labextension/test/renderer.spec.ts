import { COMPARISON_MIME } from '../src/payload';
import { ComparisonRenderer, renderComparison, rendererFactory } from '../src/renderer';
import { readComparison } from '../src/payload';
import { digitsPayload, row } from './fixtures';

import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';

function render(data: unknown): HTMLElement {
  const host = document.createElement('div');
  const comparison = readComparison(data);
  if (!comparison) {
    throw new Error('unreadable payload');
  }
  renderComparison(host, comparison);
  return host;
}

function bodyTexts(host: HTMLElement): string[][] {
  return Array.from(host.querySelectorAll('tbody tr')).map(tr =>
    Array.from(tr.querySelectorAll('td')).map(td => td.textContent ?? '')
  );
}

describe('the comparison renderer', () => {
  it('shows one table row per variant with formatted cells', () => {
    const host = render(digitsPayload());
    expect(host.querySelector('.nbopt-caption')?.textContent).toBe('nbopt: model · 5 variants');
    const headings = Array.from(host.querySelectorAll('thead th')).map(th => th.textContent);
    expect(headings).toEqual([
      '◆',
      'variant',
      'status',
      'size',
      'smaller',
      'gzip',
      'latency',
      'p90',
      'speedup',
      'accuracy',
      'Δ'
    ]);
    const cells = bodyTexts(host);
    expect(cells).toHaveLength(5);
    expect(cells[0]).toEqual([
      '',
      'float32',
      'ok',
      '171.6 KB',
      '1.00×',
      '156.9 KB',
      '11.4 µs',
      '12.9 µs',
      '1.00×',
      '97.2%',
      '+0.0 pt'
    ]);
    expect(cells[2].slice(0, 4)).toEqual(['◆', 'dynamic', 'ok', '45.3 KB']);
    expect(cells[4].slice(1, 4)).toEqual(['int16x8', 'failed', '']);
  });

  it('draws one point per ok variant and marks the Pareto front', () => {
    const host = render(digitsPayload());
    const svg = host.querySelector('svg.nbopt-chart');
    expect(svg).not.toBeNull();
    expect(svg!.querySelectorAll('.nbopt-points circle')).toHaveLength(4);
    const pareto = Array.from(svg!.querySelectorAll('.nbopt-points circle.nbopt-pareto'));
    expect(pareto.map(c => c.querySelector('title')?.textContent?.split(':')[0]).sort()).toEqual([
      'dynamic',
      'float16'
    ]);
    expect(svg!.querySelectorAll('polyline.nbopt-front-line')).toHaveLength(1);
    expect(host.querySelectorAll('tbody tr.nbopt-pareto')).toHaveLength(2);
    // Slower variants have bigger circles.
    const radius = (scheme: string): number =>
      Number(
        Array.from(svg!.querySelectorAll('.nbopt-points circle'))
          .find(c => c.querySelector('title')?.textContent?.startsWith(scheme + ':'))!
          .getAttribute('r')
      );
    expect(radius('dynamic')).toBeGreaterThan(radius('int8'));
  });

  it('keeps the labels of points that nearly coincide apart, and off every point', () => {
    const host = render(digitsPayload());
    const boxes = Array.from(host.querySelectorAll('.nbopt-point-label')).map(t => {
      const x = Number(t.getAttribute('x'));
      const y = Number(t.getAttribute('y'));
      return { x0: x, x1: x + 6.8 * (t.textContent ?? '').length, y0: y - 9, y1: y + 3 };
    });
    expect(boxes).toHaveLength(4);
    const overlap = (a: (typeof boxes)[0], b: (typeof boxes)[0]): boolean =>
      a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
    // dynamic and int8 differ by 0.7 KB and 0.3% accuracy: their labels still do not touch.
    boxes.forEach((a, i) => boxes.slice(i + 1).forEach(b => expect(overlap(a, b)).toBe(false)));
    const circles = Array.from(host.querySelectorAll('.nbopt-points circle')).map(c => {
      const [x, y, r] = ['cx', 'cy', 'r'].map(k => Number(c.getAttribute(k)));
      return { x0: x - r, x1: x + r, y0: y - r, y1: y + r };
    });
    boxes.forEach(a => circles.forEach(c => expect(overlap(a, c)).toBe(false)));
    // Every label is inside the chart.
    boxes.forEach(a => {
      expect(a.x0).toBeGreaterThanOrEqual(0);
      expect(a.x1).toBeLessThanOrEqual(520);
    });
  });

  it('keeps eight crowded labels apart and inside the plot', () => {
    const names = ['float32', 'float16', 'dynamic', 'int8', 'int16x8', 'qat', 'prune', 'cluster'];
    const rows = names.map((scheme, i) =>
      row(scheme, {
        technique: ['qat', 'prune', 'cluster'].includes(scheme) ? scheme : 'ptq',
        size_bytes: 150000 + 2000 * (i % 4),
        latency_ms: 0.01 + 0.001 * i,
        accuracy: 0.93 + 0.001 * (i % 3)
      })
    );
    const host = render({ version: 1, name: 'm', done: true, rows });
    const boxes = Array.from(host.querySelectorAll('.nbopt-point-label')).map(t => {
      const x = Number(t.getAttribute('x'));
      const y = Number(t.getAttribute('y'));
      return { x0: x, x1: x + 6.8 * (t.textContent ?? '').length, y0: y - 9, y1: y + 3 };
    });
    expect(boxes).toHaveLength(8);
    const overlap = (a: (typeof boxes)[0], b: (typeof boxes)[0]): boolean =>
      a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
    boxes.forEach((a, i) => boxes.slice(i + 1).forEach(b => expect(overlap(a, b)).toBe(false)));
    boxes.forEach(a => {
      expect(a.x0).toBeGreaterThanOrEqual(64);
      expect(a.x1).toBeLessThanOrEqual(520 - 96);
    });
  });

  it('labels axes with units and formats tooltips as a person reads them', () => {
    const host = render(digitsPayload());
    const labels = Array.from(host.querySelectorAll('.nbopt-axis-label')).map(t => t.textContent);
    expect(labels).toEqual(['size (KB), smaller is better', 'accuracy (higher is better)']);
    const yTicks = Array.from(host.querySelectorAll('.nbopt-tick:not(.nbopt-tick-x)')).map(
      t => t.textContent ?? ''
    );
    expect(yTicks.length).toBeGreaterThanOrEqual(3);
    yTicks.forEach(t => expect(t).toMatch(/^\d+(\.\d+)?%$/));
    const xTicks = Array.from(host.querySelectorAll('.nbopt-tick-x')).map(t => t.textContent);
    expect(xTicks).toEqual(['0', '50', '100', '150']);
    const tips = Array.from(host.querySelectorAll('.nbopt-points circle title')).map(
      t => t.textContent
    );
    expect(tips).toContain(
      'int8: 46.0 KB (3.73× smaller), accuracy 96.7% (-0.5 pt), latency 9.0 µs'
    );
    expect(tips).toContain('float32: 171.6 KB, accuracy 97.2% (+0.0 pt), latency 11.4 µs');
  });

  it('shows sizes from 1 MB up in MB, and latency in ms from 1 ms up', () => {
    const rows = [
      row('float32', { size_bytes: 14 * 1024 * 1024, latency_ms: 25.3, accuracy: 0.7 }),
      row('int8', { size_bytes: 3.6 * 1024 * 1024, latency_ms: 0.8, accuracy: 0.69 })
    ];
    const host = render({ version: 1, name: 'm', done: true, rows });
    expect(host.querySelector('.nbopt-axis-label')?.textContent).toBe(
      'size (MB), smaller is better'
    );
    const cells = bodyTexts(host);
    expect(cells.map(c => [c[3], c[6]])).toEqual([
      ['14.00 MB', '25.3 ms'],
      ['3.60 MB', '800 µs']
    ]);
  });

  it('places every point at its size and accuracy', () => {
    const host = render(digitsPayload());
    const rows = readComparison(digitsPayload())!.rows;
    const circles = Array.from(host.querySelectorAll('.nbopt-points circle'));
    const at = circles.map(c => ({
      row: rows[Number((c as SVGElement).dataset.index)],
      x: Number(c.getAttribute('cx')),
      y: Number(c.getAttribute('cy'))
    }));
    // x grows linearly with size from 0, y with accuracy: check against two points.
    const [a, b] = at;
    const kx = (b.x - a.x) / ((b.row.size_bytes as number) - (a.row.size_bytes as number));
    const ky = (b.y - a.y) / ((b.row.accuracy as number) - (a.row.accuracy as number) || 1);
    for (const p of at) {
      expect(p.x - a.x).toBeCloseTo(
        kx * ((p.row.size_bytes as number) - (a.row.size_bytes as number)),
        0
      );
      if (b.row.accuracy !== a.row.accuracy) {
        expect(p.y - a.y).toBeCloseTo(
          ky * ((p.row.accuracy as number) - (a.row.accuracy as number)),
          0
        );
      }
    }
  });

  it('lists errors below the table', () => {
    const host = render(digitsPayload());
    expect(host.querySelector('.nbopt-errors')?.textContent).toBe(
      'int16x8: no_integer_overflow_from_quantization'
    );
  });

  it('sorts by a column when its heading is clicked, and reverses on a second click', () => {
    const host = render(digitsPayload());
    const button = Array.from(host.querySelectorAll<HTMLButtonElement>('th button')).find(
      b => b.textContent === 'size'
    )!;
    const schemes = (): string[] => bodyTexts(host).map(cells => cells[1]);
    button.click();
    expect(schemes()).toEqual(['dynamic', 'int8', 'float16', 'float32', 'int16x8']);
    expect(button.parentElement!.getAttribute('aria-sort')).toBe('ascending');
    button.click();
    expect(schemes()).toEqual(['float32', 'float16', 'int8', 'dynamic', 'int16x8']);
    expect(button.parentElement!.getAttribute('aria-sort')).toBe('descending');
    const scheme = Array.from(host.querySelectorAll<HTMLButtonElement>('th button'))[0];
    scheme.click();
    expect(schemes()).toEqual(['dynamic', 'float16', 'float32', 'int16x8', 'int8']);
    expect(button.parentElement!.getAttribute('aria-sort')).toBe('none');
  });

  it('says when a comparison is still running', () => {
    const payload = { ...digitsPayload(), done: false };
    expect(render(payload).querySelector('.nbopt-caption')?.textContent).toBe(
      'nbopt: model (running) · 5 variants'
    );
    const first = {
      ...payload,
      rows: (payload as unknown as { rows: unknown[] }).rows.slice(0, 1)
    };
    expect(render(first).querySelector('.nbopt-caption')?.textContent).toBe(
      'nbopt: model (running) · 1 variant'
    );
  });

  it('shows no chart when no variant could be measured', () => {
    const payload = {
      version: 1,
      name: 'm',
      done: true,
      rows: [row('int8', { status: 'failed', error: 'boom' })]
    };
    const host = render(payload);
    expect(host.querySelector('svg')).toBeNull();
    expect(bodyTexts(host)).toHaveLength(1);
  });
});

describe('payload values are text, never markup', () => {
  const script = '<script>window.__nboptPwned = 1</script>';
  const img = '<img src=x onerror="window.__nboptPwned = 1">';

  function hostile(): { [key: string]: unknown } {
    const rows = [
      row(script, { size_bytes: 1000, accuracy: 0.5, latency_ms: 1, model: img }),
      row(img, { size_bytes: 500, accuracy: 0.4, latency_ms: 2, error: script }),
      row('int8', { status: img, error: img })
    ];
    return { version: 1, name: img + script, done: true, columns: Object.keys(rows[0]), rows };
  }

  const allowed = new Set([
    'DIV',
    'TABLE',
    'THEAD',
    'TBODY',
    'TR',
    'TH',
    'TD',
    'BUTTON',
    'UL',
    'LI',
    'B',
    'svg',
    'title',
    'g',
    'line',
    'text',
    'circle',
    'polyline'
  ]);

  it('renders <script> and <img onerror> in names, statuses and errors as text', () => {
    const host = render(hostile());
    expect(host.querySelectorAll('script, img')).toHaveLength(0);
    for (const el of Array.from(host.querySelectorAll('*'))) {
      expect(allowed.has(el.tagName)).toBe(true);
      for (const attr of Array.from(el.attributes)) {
        expect(attr.name.startsWith('on')).toBe(false);
      }
    }
    expect(host.querySelector('.nbopt-caption')?.textContent).toContain(img + script);
    expect(bodyTexts(host)[0][1]).toBe(script);
    expect(bodyTexts(host)[1][1]).toBe(img);
    expect(bodyTexts(host)[2][2]).toBe(img);
    expect(host.querySelector('tr.nbopt-status-other')).not.toBeNull();
    expect(host.querySelector('.nbopt-errors')?.textContent).toContain(`int8: ${img}`);
    const labels = Array.from(host.querySelectorAll('.nbopt-point-label')).map(t => t.textContent);
    expect(labels.sort()).toEqual([script, img].sort());
    expect((window as unknown as { __nboptPwned?: number }).__nboptPwned).toBeUndefined();
  });

  it('renders through the MIME renderer widget the same way', async () => {
    const renderer = rendererFactory.createRenderer({
      mimeType: COMPARISON_MIME,
      sanitizer: { sanitize: (s: string) => s },
      resolver: null,
      linkHandler: null,
      latexTypesetter: null
    } as unknown as IRenderMime.IRendererOptions) as ComparisonRenderer;
    await renderer.renderModel({
      data: { [COMPARISON_MIME]: hostile() },
      metadata: {},
      trusted: false,
      setData: () => undefined
    } as unknown as IRenderMime.IMimeModel);
    expect(renderer.node.classList.contains('nbopt-comparison')).toBe(true);
    expect(renderer.node.querySelectorAll('script, img')).toHaveLength(0);
    expect(renderer.node.querySelectorAll('tbody tr')).toHaveLength(3);
    expect(rendererFactory.safe).toBe(true);
    expect(rendererFactory.mimeTypes).toEqual([COMPARISON_MIME]);
  });

  it('shows a notice for a payload it cannot read', async () => {
    const renderer = new ComparisonRenderer({
      mimeType: COMPARISON_MIME
    } as IRenderMime.IRendererOptions);
    await renderer.renderModel({
      data: { [COMPARISON_MIME]: { version: 99 } }
    } as unknown as IRenderMime.IMimeModel);
    expect(renderer.node.textContent).toContain('no comparison');
  });
});
