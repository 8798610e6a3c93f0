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
      'latency ms',
      'p90 ms',
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
      '1.00x',
      '156.9 KB',
      '0.0114',
      '0.0129',
      '1.00x',
      '97.22%',
      '+0.00%'
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

  it('keeps the labels of points that nearly coincide apart', () => {
    const host = render(digitsPayload());
    const y = (scheme: string): number =>
      Number(
        Array.from(host.querySelectorAll('.nbopt-point-label'))
          .find(t => t.textContent === scheme)!
          .getAttribute('y')
      );
    // dynamic and int8 differ by 0.7 KB and 0.3% accuracy: one label moves down.
    expect(Math.abs(y('dynamic') - y('int8'))).toBeGreaterThanOrEqual(12);
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
