/**
 * The renderer draws what Python computed (payload version 2): the table's cells in Python's
 * column order with the compatibility column, the notes, errors and call-outs, and the
 * charts' layouts with their groups, leaders, log axis and tooltips.
 */

import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import { COMPARISON_MIME, readComparison } from '../src/payload';
import { ComparisonRenderer, renderComparison, rendererFactory } from '../src/renderer';
import { row, saved } from './fixtures';

function render(data: unknown): HTMLElement {
  const host = document.createElement('div');
  const comparison = readComparison(data);
  if (!comparison) {
    throw new Error('unreadable payload');
  }
  renderComparison(host, comparison);
  document.body.replaceChildren(host);
  return host;
}

function bodyTexts(host: HTMLElement): string[][] {
  return Array.from(host.querySelectorAll('tbody tr')).map(tr =>
    Array.from(tr.querySelectorAll('td')).map(td => td.textContent ?? '')
  );
}

function headings(host: HTMLElement): string[] {
  return Array.from(host.querySelectorAll('thead th')).map(th => th.textContent ?? '');
}

/** Each marker of the chart shown: the rows it stands for, its classes and tooltip. */
function markers(host: HTMLElement): { rows: string; cls: string; tip: string }[] {
  return Array.from(host.querySelectorAll('svg.nbopt-chart circle[data-rows]')).map(c => ({
    rows: c.getAttribute('data-rows') ?? '',
    cls: c.getAttribute('class') ?? '',
    tip: c.getAttribute('aria-label') ?? ''
  }));
}

function labels(host: HTMLElement): string[] {
  return Array.from(host.querySelectorAll('.nbopt-point-label')).map(t => t.textContent ?? '');
}

describe('a version-2 payload (the quick start, measured by nbopt demo)', () => {
  const payload = saved('quickstart.v2');
  const table = payload.table as { cells: string[][]; notes: string[]; headings: string[] };

  it("shows Python's headings and cells, the compatibility column included", () => {
    const host = render(payload);
    expect(host.querySelector('.nbopt-caption')?.textContent).toBe('nbopt: model · 5 variants');
    expect(headings(host)).toEqual(['◆', ...table.headings]);
    expect(headings(host).slice(-3)).toEqual(['accuracy', 'Δ', 'compatibility']);
    const cells = bodyTexts(host);
    expect(cells.map(c => c.slice(1))).toEqual(table.cells);
    expect(cells[0]).toEqual([
      '',
      'float32',
      'ok',
      '603.3 KB',
      '',
      '556.1 KB',
      '9.0 KB',
      '8.1 µs',
      '8.3 µs',
      '',
      '96.1%',
      '',
      'GPU ✓ · Edge TPU ✗ [1,2]'
    ]);
    expect(cells[3][12]).toBe('GPU ✓ · Edge TPU ✗ [6]');
  });

  it('lists the numbered notes under the table', () => {
    const host = render(payload);
    const notes = Array.from(host.querySelectorAll('.nbopt-notes .nbopt-note')).map(
      n => n.textContent
    );
    expect(notes).toEqual(table.notes);
    expect(notes).toHaveLength(7);
    expect(notes[5]).toBe(
      "[6] Edge TPU: inputs/outputs are float32; convert int8 with integer I/O (io='int8', --io int8)"
    );
  });

  it('marks the front of size with ◆, and of RAM once the RAM chart is shown', () => {
    const host = render(payload);
    const marked = (): string[] =>
      bodyTexts(host)
        .filter(c => c[0] === '◆')
        .map(c => c[1]);
    expect(marked()).toEqual(['dynamic']);
    const ram = host.querySelectorAll<HTMLButtonElement>('.nbopt-chart-x-button')[1];
    expect(ram.textContent).toBe('RAM');
    ram.click();
    expect(marked()).toEqual(['int8']);
    expect(host.querySelector('thead th')?.getAttribute('title')).toBe(
      'on the Pareto front of RAM and metric'
    );
  });

  it('draws dynamic, int8 and int16x8 (156 to 161 KB, same accuracy) as one marker naming all three', () => {
    const host = render(payload);
    const drawn = markers(host);
    expect(drawn.map(m => m.rows).sort()).toEqual(['0', '1', '2 3 4']);
    const group = drawn.find(m => m.rows === '2 3 4')!;
    expect(group.cls).toBe('nbopt-point nbopt-pareto nbopt-group nbopt-has-tip');
    expect(group.tip.split('\n').map(t => t.split(':')[0])).toEqual(['dynamic', 'int8', 'int16x8']);
    expect(host.querySelector('.nbopt-count')?.textContent).toBe('3');
    // Each variant still has its own label.
    expect(labels(host).sort()).toEqual(['dynamic', 'float16', 'float32', 'int16x8', 'int8']);
  });

  it('shows a tooltip on hover and lights up the marker of a hovered label', () => {
    const host = render(payload);
    const tooltip = host.querySelector<HTMLElement>('.nbopt-tooltip')!;
    expect(tooltip.hidden).toBe(true);
    const int8 = Array.from(host.querySelectorAll('.nbopt-point-label')).find(
      t => t.textContent === 'int8'
    )!;
    int8.dispatchEvent(new MouseEvent('mouseover', { bubbles: true }));
    expect(tooltip.hidden).toBe(false);
    expect(tooltip.textContent).toBe(
      'int8: 158.8 KB (3.80× smaller), accuracy 96.1% (+0.0 pt), latency 3.5 µs'
    );
    const group = host.querySelector('circle[data-rows="2 3 4"]')!;
    expect(group.classList.contains('nbopt-active')).toBe(true);
    int8.dispatchEvent(new MouseEvent('mouseout', { bubbles: true }));
    expect(tooltip.hidden).toBe(true);
    expect(group.classList.contains('nbopt-active')).toBe(false);
    // A marker takes the keyboard's focus and shows its tooltip too.
    (group as SVGElement).focus();
    expect(group.getAttribute('tabindex')).toBe('0');
    group.dispatchEvent(new FocusEvent('focusin', { bubbles: true }));
    expect(tooltip.textContent?.split('\n')).toHaveLength(3);
  });

  it('switches to the RAM chart, on a log axis, and back', () => {
    const host = render(payload);
    const [size, ram] = Array.from(
      host.querySelectorAll<HTMLButtonElement>('.nbopt-chart-x-button')
    );
    const axis = (): string => host.querySelector('.nbopt-axis-label')?.textContent ?? '';
    expect(axis()).toBe('size (KB), smaller is better');
    ram.click();
    expect(ram.getAttribute('aria-pressed')).toBe('true');
    expect(host.querySelectorAll('svg.nbopt-chart')).toHaveLength(1);
    expect(host.querySelector('svg.nbopt-chart')?.getAttribute('data-x')).toBe('ram_bytes');
    expect(axis()).toBe('RAM (KB, log scale), smaller is better');
    const ticks = Array.from(host.querySelectorAll('.nbopt-tick-x')).map(t => t.textContent);
    expect(ticks).toEqual(['2', '5', '10', '20', '50', '100', '200', '500']);
    expect(
      markers(host)
        .map(m => m.rows)
        .sort()
    ).toEqual(['0 2', '1', '3', '4']);
    size.click();
    expect(axis()).toBe('size (KB), smaller is better');
  });
});

describe('a version-2 payload with integer I/O, float layers, pruning and clustering', () => {
  const payload = saved('variety.v2');

  it('names each variant as Python does', () => {
    const host = render(payload);
    expect(bodyTexts(host).map(c => c[1])).toEqual([
      'float32',
      'float16',
      'dynamic',
      'int8',
      'int16x8',
      'int8 (int8 I/O)',
      'int8 float=dense (int8 I/O)',
      'prune',
      'cluster'
    ]);
    expect(labels(host)).toContain('int8 float=dense (int8 I/O)');
    expect(headings(host).slice(-3)).toEqual(['sparsity', 'distinct values', 'compatibility']);
  });

  it('joins a label that could not sit beside its marker with a leader line', () => {
    const host = render(payload);
    const leader = host.querySelector('line.nbopt-leader');
    expect(leader?.getAttribute('data-rows')).toBe('6');
  });

  it('sorts numbers by value and names by text, and the variant column stays first', () => {
    const host = render(payload);
    const button = (heading: string): HTMLButtonElement =>
      Array.from(host.querySelectorAll<HTMLButtonElement>('th button')).find(
        b => b.textContent === heading
      )!;
    const names = (): string[] => bodyTexts(host).map(c => c[1]);
    button('gzip').click();
    expect(names().slice(0, 3)).toEqual(['cluster', 'dynamic', 'int8 (int8 I/O)']);
    button('gzip').click();
    expect(names()[0]).toBe('float32');
    button('variant').click();
    expect(names().slice(0, 3)).toEqual(['cluster', 'dynamic', 'float16']);
    const first = host.querySelector('tbody tr td:nth-child(2)');
    expect(first?.classList.contains('nbopt-variant-col')).toBe(true);
    expect(host.querySelector('.nbopt-table-box > table.nbopt-table')).not.toBeNull();
  });
});

describe("a search's payload (nbopt.optimize of the digits CNN, size within max drop 0.01)", () => {
  // Saved from a real search of 9 candidates (budget=9) by this version of nbopt.
  const payload = saved('front.v2');

  it('shows the pick, its reason and the magic line that reproduces it, above the table', () => {
    const host = render(payload);
    const pick = host.querySelector('div.nbopt-pick');
    expect(pick?.querySelector('b')?.textContent).toBe('pick: int4.');
    expect(pick?.textContent).toContain('int4 has the smallest size (82,864 bytes)');
    expect(pick?.querySelector('pre > code')?.textContent).toBe(
      '%quantize digits_cnn --scheme int4 --eval x_test,y_test'
    );
    expect(pick?.nextElementSibling?.className).toBe('nbopt-body');
  });

  it("lists the search's decisions under the pick", () => {
    const step = 'prune 0.8 trains 2 more epochs from its saved weights';
    const pick = { ...(payload.pick as object), trail: [step] };
    const host = render({ ...payload, pick });
    const items = host.querySelectorAll('div.nbopt-pick > ul.nbopt-trail > li');
    expect(Array.from(items).map(li => li.textContent)).toEqual([step]);
    expect(render(payload).querySelector('ul.nbopt-trail')).toBeNull();
  });

  it('lists every candidate with its verdict in a column of its own; ◆ marks the kept', () => {
    const host = render(payload);
    expect(headings(host).slice(0, 4)).toEqual(['◆', 'candidate', 'status', 'verdict']);
    const cells = bodyTexts(host);
    expect(cells).toHaveLength(12);
    expect(cells.map(c => [c[0], c[1], c[2], c[3]])).toEqual([
      ['', 'float16', 'ok', 'dominated'],
      ['', 'dynamic', 'ok', 'dominated'],
      ['◆', 'int8', 'ok', 'kept'],
      ['', 'int16x8', 'ok', 'dominated'],
      ['◆', 'int4', 'ok', 'kept'],
      ['◆', 'int4-block32', 'ok', 'kept'],
      ['', 'weight-int8', 'ok', 'dominated'],
      ['', 'int8 float layers', 'skipped', 'not run: plain int8 is within max_drop'],
      ['', 'qat', 'ok', 'over budget'],
      ['', 'prune 0.5+int8', 'ok', 'over budget'],
      ['', 'prune 0.8+int8', 'skipped', 'not run: budget spent (9 candidates)'],
      ['', 'cluster 16+int8', 'skipped', 'not run: budget spent (9 candidates)']
    ]);
  });

  it('plots every measured candidate once, drawn as its verdict, the pick ringed', () => {
    const host = render(payload);
    const drawn = markers(host);
    const rows = drawn.flatMap(m => m.rows.split(' ').map(Number)).sort((a, b) => a - b);
    expect(rows).toEqual([0, 1, 2, 3, 4, 5, 6, 8, 9]);
    const cls = (row: string): string => drawn.find(m => m.rows === row)!.cls;
    expect(cls('8')).toBe('nbopt-point nbopt-over nbopt-has-tip');
    expect(cls('9')).toBe('nbopt-point nbopt-over nbopt-has-tip');
    expect(cls('4')).toBe('nbopt-point nbopt-pareto nbopt-has-tip');
    expect(drawn.find(m => m.rows === '9')!.tip).toContain('prune 0.5+int8: 158.8 KB');
    expect(drawn.find(m => m.rows === '9')!.tip).toMatch(/\(over budget\)$/);
    const ring = host.querySelectorAll('svg.nbopt-chart circle.nbopt-pick');
    expect(ring).toHaveLength(2); // around int4, and in the legend
    const int4 = host.querySelector('svg.nbopt-chart circle[data-rows="4"]')!;
    expect(ring[0].getAttribute('cx')).toBe(int4.getAttribute('cx'));
    const limit = host.querySelector('svg.nbopt-chart text.nbopt-limit-label');
    expect(limit?.textContent).toBe("max drop 0.01 from float32's 99.0%");
    expect(host.querySelector('svg.nbopt-chart line.nbopt-limit')).not.toBeNull();
  });
});

describe('payload values are text, never markup', () => {
  const script = '<script>window.__nboptPwned = 1</script>';
  const img = '<img src=x onerror="window.__nboptPwned = 1">';

  function hostile(): { [key: string]: unknown } {
    const rows = [row('int8', { status: img, error: img })];
    return {
      version: 2,
      name: img,
      caption: img + script,
      done: true,
      rows,
      table: {
        headings: [script, 'status'],
        keys: ['variant', 'status'],
        numeric: [false, false],
        labels: [script],
        cells: [[script, img]],
        statuses: [img],
        errors: [`${script}: ${img}`],
        notes: [img],
        callouts: [script],
        pending: img
      },
      charts: [
        {
          x: 'size_bytes',
          name: img,
          width: 640,
          height: 320,
          title: script,
          items: [
            { el: 'script', cls: 'x', text: script },
            { el: 'text', cls: 'a" onclick="x', x: 1, y: 1, text: script },
            { el: 'text', cls: 'nbopt-point-label', x: '1;alert(1)', y: 2, text: script, tip: img },
            {
              el: 'circle',
              cls: 'nbopt-point',
              cx: 5,
              cy: 5,
              r: 3,
              rows: [0, -1, 'x'],
              tip: script
            }
          ]
        }
      ]
    };
  }

  it('renders <script> and <img onerror> in every text as text', () => {
    const host = render(hostile());
    expect(host.querySelectorAll('script, img')).toHaveLength(0);
    for (const el of Array.from(host.querySelectorAll('*'))) {
      for (const attr of Array.from(el.attributes)) {
        expect(attr.name.startsWith('on')).toBe(false);
      }
    }
    expect(host.querySelector('.nbopt-caption')?.textContent).toBe(img + script);
    expect(bodyTexts(host)[0].slice(1)).toEqual([script, img]);
    expect(host.querySelector('tr.nbopt-status-other')).not.toBeNull();
    expect(host.querySelector('.nbopt-errors b')?.textContent).toBe(script);
    expect(host.querySelector('.nbopt-notes')?.textContent).toBe(img);
    expect(host.querySelector('.nbopt-drop')?.textContent).toBe(`⚠ ${script}`);
    expect(host.querySelector('.nbopt-pending')?.textContent).toBe(`${img}…`);
    // The unknown element and the class with a quote are dropped; a bad coordinate is left out.
    const svg = host.querySelector('svg.nbopt-chart')!;
    expect(Array.from(svg.children).map(c => c.tagName)).toEqual(['title', 'text', 'circle']);
    expect(svg.querySelector('text')?.hasAttribute('x')).toBe(false);
    expect(svg.querySelector('text')?.textContent).toBe(script);
    expect(svg.querySelector('circle')?.getAttribute('data-rows')).toBe('0');
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
    expect(renderer.node.querySelectorAll('tbody tr')).toHaveLength(2); // the row, the step
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
