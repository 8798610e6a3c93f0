/** Reading the payload: version 2 as Python computed it, version 1 from saved notebooks. */

import { readComparison } from '../src/payload';
import { saved } from './fixtures';

describe('readComparison', () => {
  it("reads a version-2 payload: Python's table, charts and direction", () => {
    const c = readComparison(saved('quickstart.v2'))!;
    expect(c.version).toBe(2);
    expect(c.caption).toBe('nbopt: model · 5 variants');
    expect(c.table.labels).toEqual(['float32', 'float16', 'dynamic', 'int8', 'int16x8']);
    expect(c.table.numeric.filter(n => n)).toHaveLength(9);
    expect(c.metric).toBe('accuracy');
    expect(c.higherIsBetter).toBe(true);
    expect(c.charts.map(ch => [ch.name, ch.log, ch.frontRows])).toEqual([
      ['size', false, [2]],
      ['RAM', true, [3]]
    ]);
  });

  it("reads a search's pick, and none from a comparison or an old payload", () => {
    const search = readComparison(saved('front.v2'))!;
    expect(search.pick?.label).toBe('int4');
    expect(search.pick?.line).toBe('%quantize digits_cnn --scheme int4 --eval x_test,y_test');
    expect(search.charts.map(ch => [ch.x, ch.frontRows])).toEqual([['size_bytes', [2, 4, 5]]]);
    expect(readComparison(saved('quickstart.v2'))!.pick).toBeNull();
    expect(readComparison(saved('quickstart.v1'))!.pick).toBeNull();
    const none = readComparison({
      ...saved('front.v2'),
      pick: { label: null, reason: 'No candidate.', line: null }
    })!;
    expect(none.pick).toEqual({ label: null, reason: 'No candidate.', line: null, trail: [] });
    expect(readComparison({ ...saved('front.v2'), pick: { label: 'x' } })!.pick).toBeNull();
  });

  it('reads a real version-1 payload (saved by nbopt before version 2)', () => {
    const data = saved('quickstart.v1');
    expect(data.version).toBe(1);
    const c = readComparison(data)!;
    expect(c.version).toBe(1);
    expect(c.caption).toBe('nbopt: model · 5 variants');
    expect(c.table.labels).toEqual(['float32', 'float16', 'dynamic', 'int8', 'int16x8']);
    expect(c.table.headings).toEqual([
      'variant',
      'status',
      'size',
      'smaller',
      'gzip',
      'RAM',
      'latency',
      'p90',
      'speedup',
      'accuracy',
      'Δ'
    ]);
    expect(c.charts.map(ch => [ch.name, ch.frontRows])).toEqual([
      ['size', [2]],
      ['RAM', [3]]
    ]);
  });

  it.each([null, 'text', [], { version: 3, rows: [] }, { version: 1 }, { version: 2, rows: [] }])(
    'refuses %p',
    data => {
      expect(readComparison(data)).toBeNull();
    }
  );

  it('drops chart items it does not know and keeps only numeric coordinates', () => {
    const data = saved('quickstart.v2');
    const chart = (data.charts as { items: unknown[] }[])[0];
    chart.items = [
      { el: 'foreignObject', cls: 'x' },
      { el: 'circle', cls: 'nbopt-point', cx: '1', cy: 2, r: 3, rows: [1, 'a', 2.5, -1, 4] },
      'not an item'
    ];
    const c = readComparison(data)!;
    expect(c.charts[0].items).toEqual([
      { el: 'circle', cls: 'nbopt-point', at: { cy: 2, r: 3 }, rows: [1, 4] }
    ]);
  });
});
