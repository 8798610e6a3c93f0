import {
  formatBytes,
  formatLatency,
  formatMetric,
  formatRatio,
  paretoFront,
  points,
  qualityAxis,
  readComparison,
  variantLabel
} from '../src/payload';
import { digitsPayload, row } from './fixtures';

describe('readComparison', () => {
  it('reads a version-1 payload', () => {
    const c = readComparison(digitsPayload());
    expect(c?.name).toBe('model');
    expect(c?.done).toBe(true);
    expect(c?.rows).toHaveLength(5);
    expect(c?.columns).toContain('accuracy_delta');
  });

  it.each([null, 'text', [], { version: 2, rows: [] }, { version: 1 }])('refuses %p', data => {
    expect(readComparison(data)).toBeNull();
  });
});

describe('Pareto front', () => {
  it('keeps the variants no other beats on both size and accuracy', () => {
    const rows = readComparison(digitsPayload())!.rows;
    const axis = qualityAxis(rows);
    expect(axis.column).toBe('accuracy');
    const pts = points(rows, axis);
    expect(pts).toHaveLength(4); // the failed int16x8 has no point
    const front = paretoFront(pts, axis.higherIsBetter);
    // float32 (best accuracy, ties float16 but larger) is dominated by float16;
    // int8 is larger than dynamic but less accurate: dominated.
    expect([...front].map(i => rows[i].scheme).sort()).toEqual(['dynamic', 'float16']);
  });

  it('treats lower mse as better', () => {
    const rows = [
      row('float32', { metric: 'mse', size_bytes: 400, accuracy: 0.1 }),
      row('float16', { metric: 'mse', size_bytes: 200, accuracy: 0.1 }),
      row('int8', { metric: 'mse', size_bytes: 100, accuracy: 0.5 }),
      row('dynamic', { metric: 'mse', size_bytes: 100, accuracy: 0.7 })
    ];
    const axis = qualityAxis(rows);
    expect(axis.higherIsBetter).toBe(false);
    const front = paretoFront(points(rows, axis), false);
    expect([...front].map(i => rows[i].scheme).sort()).toEqual(['float16', 'int8']);
  });

  it("follows the rows' own direction for any metric", () => {
    const wer = [
      row('float32', { metric: 'wer', higher_is_better: false, size_bytes: 400, accuracy: 0.1 }),
      row('int8', { metric: 'wer', higher_is_better: false, size_bytes: 100, accuracy: 0.3 }),
      row('int16x8', { metric: 'wer', higher_is_better: false, size_bytes: 200, accuracy: 0.12 })
    ];
    expect(qualityAxis(wer).higherIsBetter).toBe(false);
    expect(qualityAxis(wer).label).toBe('wer (lower is better)');
    const front = paretoFront(points(wer, qualityAxis(wer)), false);
    expect([...front].map(i => wer[i].scheme).sort()).toEqual(['float32', 'int16x8', 'int8']);
    const f1 = [row('float32', { metric: 'f1', higher_is_better: true, accuracy: 0.9 })];
    expect(qualityAxis(f1).higherIsBetter).toBe(true);
  });

  it('plots latency when no metric was measured', () => {
    const rows = [
      row('float32', { size_bytes: 400, latency_ms: 1 }),
      row('int8', { size_bytes: 100, latency_ms: 2 })
    ];
    const axis = qualityAxis(rows);
    expect(axis.column).toBe('latency_ms');
    expect(paretoFront(points(rows, axis), false).size).toBe(2);
  });
});

describe('formatting', () => {
  it('shows bytes, accuracy and deltas as the Python table does', () => {
    expect(formatBytes(175720)).toBe('171.6 KB');
    expect(formatBytes(3 * 1024 * 1024)).toBe('3.00 MB');
    const r = row('int8', { accuracy: 0.9667, accuracy_delta: -0.0055 });
    expect(formatMetric(r, 'accuracy')).toBe('96.7%');
    // -0.0055 * 100 is -0.54999… in binary: -0.5, as Python's f"{v:+.1f}" says too.
    expect(formatMetric(r, 'accuracy_delta')).toBe('-0.5 pt');
    expect(formatMetric(row('x', { accuracy_delta: -0.0005 }), 'accuracy_delta')).toBe('-0.05 pt');
    expect(formatMetric(row('x', { accuracy_delta: 0 }), 'accuracy_delta')).toBe('+0.0 pt');
    expect(formatBytes(812)).toBe('812 B');
    expect(formatLatency(0.005127)).toBe('5.1 µs');
    expect(formatLatency(0.37)).toBe('370 µs');
    expect(formatLatency(1.234)).toBe('1.2 ms');
    expect(formatLatency(153.4)).toBe('153 ms');
    expect(formatLatency(1250)).toBe('1.25 s');
    expect(formatRatio(3.787)).toBe('3.79×');
    expect(formatMetric(row('x', { metric: 'mse', accuracy: 0.012345 }), 'accuracy')).toBe(
      '0.01235'
    );
  });
});

describe('variantLabel', () => {
  it('names training variants by technique, as the Python table does', () => {
    const label = (technique: string, scheme: string) => variantLabel({ technique, scheme });
    expect(label('baseline', 'float32')).toBe('float32');
    expect(label('ptq', 'int8')).toBe('int8');
    expect(label('prune', 'float32')).toBe('prune');
    expect(label('cluster', 'int8')).toBe('cluster+int8');
    expect(label('qat', 'int8')).toBe('qat');
  });
});
