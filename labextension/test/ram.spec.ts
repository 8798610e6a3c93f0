import {
  formatBytes,
  paretoFront,
  points,
  qualityAxis,
  readComparison,
  Row,
  sizeColumns
} from '../src/payload';
import { renderComparison } from '../src/renderer';
import { tableColumns } from '../src/table';
import { digitsPayload } from './fixtures';

/** RAM each variant needs at run time: the dynamic one dequantizes its weights into RAM. */
const RAM: { [scheme: string]: number } = {
  float32: 40960,
  float16: 40960,
  dynamic: 81920,
  int8: 10240
};

/** The digits payload with `ram_bytes` on every measured variant. */
function ramPayload(): { [key: string]: unknown } {
  const payload = digitsPayload();
  const rows = (payload.rows as Row[]).map(r => ({
    ...r,
    ram_bytes: RAM[r.scheme as string] ?? null
  }));
  return { ...payload, rows, columns: Object.keys(rows[0]) };
}

function render(data: unknown): HTMLElement {
  const host = document.createElement('div');
  renderComparison(host, readComparison(data)!);
  return host;
}

/** Each drawn circle's variant (from its tooltip), centre and Pareto mark. */
function circles(host: HTMLElement): { scheme: string; x: number; y: number; pareto: boolean }[] {
  return Array.from(host.querySelectorAll('.nbopt-points circle')).map(c => ({
    scheme: (c.querySelector('title')?.textContent ?? '').split(':')[0],
    x: Number(c.getAttribute('cx')),
    y: Number(c.getAttribute('cy')),
    pareto: c.classList.contains('nbopt-pareto')
  }));
}

function axisLabel(host: HTMLElement): string {
  return host.querySelector('.nbopt-axis-label')?.textContent ?? '';
}

describe('the RAM a variant needs', () => {
  it('shows as a RAM column after gzip, in KB, only when some row has it', () => {
    const host = render(ramPayload());
    const headings = Array.from(host.querySelectorAll('thead th')).map(th => th.textContent);
    expect(headings.slice(3, 8)).toEqual(['size', 'smaller', 'gzip', 'RAM', 'latency']);
    const cells = Array.from(host.querySelectorAll('tbody tr')).map(tr =>
      Array.from(tr.querySelectorAll('td')).map(td => td.textContent ?? '')
    );
    expect(cells.map(c => [c[1], c[6]])).toEqual([
      ['float32', '40.0 KB'],
      ['float16', '40.0 KB'],
      ['dynamic', '80.0 KB'],
      ['int8', '10.0 KB'],
      ['int16x8', '']
    ]);
    const plain = readComparison(digitsPayload())!.rows;
    expect(tableColumns(plain).map(c => c.heading)).not.toContain('RAM');
  });

  it('gives the chart points and a Pareto front of RAM against accuracy', () => {
    const rows = readComparison(ramPayload())!.rows;
    const axis = qualityAxis(rows);
    expect(sizeColumns(rows)).toEqual(['size_bytes', 'ram_bytes']);
    expect(sizeColumns(readComparison(digitsPayload())!.rows)).toEqual(['size_bytes']);
    const pts = points(rows, axis, 'ram_bytes');
    expect(pts.map(p => [p.index, p.size, p.quality])).toEqual([
      [0, 40960, 0.9722],
      [1, 40960, 0.9722],
      [2, 81920, 0.9694],
      [3, 10240, 0.9667]
    ]);
    // On RAM, int8 is the smallest and dynamic is dominated; on size it is the other way.
    expect([...paretoFront(pts, true)].sort()).toEqual([0, 1, 3]);
    const bySize = points(rows, axis);
    expect([...paretoFront(bySize, true)].sort()).toEqual([1, 2]);
  });

  it('is plotted when the RAM button is pressed, and size again with the size button', () => {
    const host = render(ramPayload());
    const buttons = Array.from(
      host.querySelectorAll<HTMLButtonElement>('.nbopt-chart-x .nbopt-chart-x-button')
    );
    expect(buttons.map(b => [b.textContent, b.getAttribute('aria-pressed')])).toEqual([
      ['size', 'true'],
      ['RAM', 'false']
    ]);
    expect(axisLabel(host)).toBe('size (KB), smaller is better');
    const bySize = circles(host);

    buttons[1].click();
    expect(buttons.map(b => b.getAttribute('aria-pressed'))).toEqual(['false', 'true']);
    expect(host.querySelectorAll('svg.nbopt-chart')).toHaveLength(1);
    expect(axisLabel(host)).toBe('RAM (KB), smaller is better');
    expect(host.querySelector('svg.nbopt-chart > title')?.textContent).toBe(
      'RAM against accuracy (higher is better)'
    );
    const byRam = circles(host);
    expect(
      byRam
        .filter(c => c.pareto)
        .map(c => c.scheme)
        .sort()
    ).toEqual(['float16', 'float32', 'int8']);
    // x grows linearly with RAM from 0: int8 (10 KB) is a quarter of the way to float32.
    const x = (scheme: string): number => byRam.find(c => c.scheme === scheme)!.x;
    const perKb = (x('dynamic') - x('int8')) / 70;
    expect(perKb).toBeGreaterThan(0);
    expect(x('float32') - x('int8')).toBeCloseTo(30 * perKb, 1);
    expect(x('float16')).toBeCloseTo(x('float32'), 5);
    expect(x('int8')).toBeLessThan(bySize.find(c => c.scheme === 'int8')!.x);
    // The y of each point does not move.
    for (const c of byRam) {
      expect(c.y).toBeCloseTo(bySize.find(s => s.scheme === c.scheme)!.y, 5);
    }
    const tips = Array.from(host.querySelectorAll('.nbopt-points circle title')).map(
      t => t.textContent
    );
    expect(tips).toContain(
      'int8: RAM 10.0 KB, size 46.0 KB (3.73× smaller), accuracy 96.7% (-0.5 pt), ' +
        'latency 9.0 µs (Pareto front)'
    );

    buttons[0].click();
    expect(axisLabel(host)).toBe('size (KB), smaller is better');
    expect(circles(host)).toEqual(bySize);
  });

  it("moves the table's ◆ marks to the front of the axis the chart shows", () => {
    const host = render(ramPayload());
    const marked = (): string[] =>
      Array.from(host.querySelectorAll('tbody tr'))
        .filter(tr => tr.querySelector('td')?.textContent === '◆')
        .map(tr => tr.querySelectorAll('td')[1].textContent ?? '');
    const marker = (): string => host.querySelector('thead th')?.getAttribute('title') ?? '';
    const [sizeButton, ramButton] = Array.from(
      host.querySelectorAll<HTMLButtonElement>('.nbopt-chart-x-button')
    );
    expect(marked()).toEqual(['float16', 'dynamic']);
    expect(marker()).toBe('on the Pareto front of size and metric');
    ramButton.click();
    expect(marked()).toEqual(['float32', 'float16', 'int8']);
    expect(host.querySelectorAll('tbody tr.nbopt-pareto')).toHaveLength(3);
    expect(marker()).toBe('on the Pareto front of RAM and metric');
    sizeButton.click();
    expect(marked()).toEqual(['float16', 'dynamic']);
    expect(marker()).toBe('on the Pareto front of size and metric');
  });

  it('is written as Python writes it, ties to the even digit (arenas are multiples of 256)', () => {
    // Each expected text is what nbopt.display.units.size gives for the same bytes.
    const python: [number, string][] = [
      [2304, '2.2 KB'],
      [3840, '3.8 KB'],
      [2560, '2.5 KB'],
      [1179648, '1.12 MB'],
      [2359296, '2.25 MB'],
      [617779, '603.3 KB'],
      [1234567890, '1,177.38 MB'],
      [999, '999 B'],
      [1047552, '1,023.0 KB']
    ];
    expect(python.map(([v]) => [v, formatBytes(v)])).toEqual(python);
  });

  it('offers no toggle when no variant has its RAM', () => {
    const host = render(digitsPayload());
    expect(host.querySelector('.nbopt-chart-x')).toBeNull();
    expect(host.querySelectorAll('svg.nbopt-chart')).toHaveLength(1);
  });
});
