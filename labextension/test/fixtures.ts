import * as fs from 'fs';
import * as path from 'path';

import { Row } from '../src/model';

/** A row shaped like the ones `nbopt.quantize` measures. */
export function row(scheme: string, values: Partial<Row>): Row {
  return {
    model: 'model',
    technique: scheme === 'float32' ? 'baseline' : 'ptq',
    scheme,
    status: 'ok',
    error: null,
    size_bytes: null,
    gzip_bytes: null,
    size_ratio: null,
    latency_ms: null,
    latency_p90_ms: null,
    speedup: null,
    metric: 'accuracy',
    accuracy: null,
    accuracy_delta: null,
    ...values
  } as Row;
}

/** A four-scheme comparison plus a failed int16x8, as the Python side publishes it. */
export function digitsPayload(): { [key: string]: unknown } {
  const rows = [
    row('float32', {
      size_bytes: 175720,
      gzip_bytes: 160650,
      size_ratio: 1,
      latency_ms: 0.0114,
      latency_p90_ms: 0.0129,
      speedup: 1,
      accuracy: 0.9722,
      accuracy_delta: 0
    }),
    row('float16', {
      size_bytes: 89240,
      gzip_bytes: 80100,
      size_ratio: 1.969,
      latency_ms: 0.0121,
      latency_p90_ms: 0.0133,
      speedup: 0.942,
      accuracy: 0.9722,
      accuracy_delta: 0
    }),
    row('dynamic', {
      size_bytes: 46400,
      gzip_bytes: 40010,
      size_ratio: 3.787,
      latency_ms: 0.0201,
      latency_p90_ms: 0.0222,
      speedup: 0.567,
      accuracy: 0.9694,
      accuracy_delta: -0.0028
    }),
    row('int8', {
      size_bytes: 47120,
      gzip_bytes: 39000,
      size_ratio: 3.729,
      latency_ms: 0.009,
      latency_p90_ms: 0.0101,
      speedup: 1.267,
      accuracy: 0.9667,
      accuracy_delta: -0.0055
    }),
    row('int16x8', { status: 'failed', error: 'no_integer_overflow_from_quantization' })
  ];
  return { version: 1, name: 'model', done: true, columns: Object.keys(rows[0]), rows };
}

/**
 * A payload saved in `test/payloads/`: `quickstart.v1` and `variety.v1` are real payloads
 * written by nbopt before payload version 2; the `.v2` ones are their rows as today's nbopt
 * publishes them (`python tools/payload_fixtures.py`; a Python test keeps them current).
 */
export function saved(name: string): { [key: string]: unknown } {
  return JSON.parse(fs.readFileSync(path.join(__dirname, 'payloads', `${name}.json`), 'utf8'));
}
