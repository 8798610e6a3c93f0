/**
 * End to end: a real JupyterLab server on loopback, a real kernel, Debian's Chromium driven
 * by playwright-core. Checks what a user sees: the saved comparison's table and chart, a
 * `%quantize` run's output, the cell a palette command inserts, the panel, and a sweep's Dask
 * dashboard opened from dask-labextension's sidebar.
 *
 * The Python environment is `NBOPT_VENV` (default: the repository's `.venv`).
 */

import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

import { Browser, chromium, Locator, Page } from 'playwright-core';

const REPO = path.resolve(__dirname, '..', '..');
const VENV = process.env.NBOPT_VENV ?? path.join(REPO, '.venv');
const PYTHON = path.join(VENV, 'bin', 'python');
const JUPYTER = path.join(VENV, 'bin', 'jupyter');
const CHROMIUM = process.env.NBOPT_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = path.join(REPO, 'build', 'e2e');
const COMPARISON = 'application/vnd.nbopt.comparison+json';

/** What `crowded.ipynb` shows: the quick start's rows and four more (see make_notebooks.py). */
interface ICrowded {
  labels: string[];
  headings: string[];
  compat: string[];
  notes: string[];
  /** Each chart's markers (by its button's name), as the rows each stands for. */
  markers: { [chart: string]: number[][] };
}

interface IExpected {
  rows: number;
  schemes: string[];
  cells: string[][];
  notes: string[];
  crowded: ICrowded;
  points: number;
  pareto: string[];
  /** Each scheme's size and accuracy. */
  sizes: { [scheme: string]: number };
  accuracy: { [scheme: string]: number };
  /** Each scheme's `ram_bytes` (null where not measured). */
  ram: { [scheme: string]: number | null };
  pareto_ram: string[];
  live_rows: number;
}

let root = '';
let server: ChildProcess | null = null;
let serverLog = '';
let browser: Browser | null = null;
let page: Page;
let base = '';
let expected: IExpected;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

function status(url: string): Promise<number> {
  return new Promise(resolve => {
    const request = http.get(url, { timeout: 2000 }, response => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(0));
  });
}

async function waitForServer(url: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (server?.exitCode !== null) {
      throw new Error(`JupyterLab exited early:\n${serverLog}`);
    }
    if ((await status(url)) === 200) {
      return;
    }
    await new Promise(r => setTimeout(r, 250));
  }
  throw new Error(`JupyterLab did not answer within ${timeoutMs} ms:\n${serverLog}`);
}

async function stopServer(): Promise<void> {
  const proc = server;
  server = null;
  if (!proc || proc.pid === undefined || proc.exitCode !== null) {
    return;
  }
  const exited = new Promise<void>(resolve => proc.once('exit', () => resolve()));
  // The server shuts its kernels down on SIGTERM; its process group is ours alone.
  process.kill(-proc.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    try {
      process.kill(-proc.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }, 15000);
  await exited;
  clearTimeout(timer);
}

async function openNotebook(name: string): Promise<void> {
  // `?reset`: a fresh workspace, so only this notebook is open and current.
  await page.goto(`${base}/lab/tree/${name}?reset`, { waitUntil: 'domcontentloaded' });
  await page
    .locator('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel', {
      hasText: name
    })
    .waitFor({ timeout: 90000 });
  await page.locator(`${NOTEBOOK} .jp-Cell`).first().waitFor({ timeout: 60000 });
}

/** The visible notebook. */
const NOTEBOOK = '.jp-NotebookPanel:not(.lm-mod-hidden)';

/** The `n`th cell of the visible notebook. */
function cell(n: number): Locator {
  return page.locator(`${NOTEBOOK} .jp-Cell`).nth(n);
}

/** The texts of the body cells of the comparison table in `scope` (one row per variant). */
async function tableTexts(scope: Locator): Promise<string[][]> {
  return scope
    .locator('.nbopt-comparison tbody tr.nbopt-row')
    .evaluateAll(trs =>
      trs.map(tr => Array.from(tr.querySelectorAll('td')).map(td => td.textContent ?? ''))
    );
}

/** The source of the active cell, line by line from CodeMirror's DOM. */
async function activeCellSource(): Promise<string> {
  return page.$eval(`${NOTEBOOK} .jp-Cell.jp-mod-active`, active =>
    Array.from(active.querySelectorAll('.cm-content .cm-line'))
      .map(line => line.textContent ?? '')
      .join('\n')
  );
}

async function paletteHasFocus(): Promise<boolean> {
  return page.evaluate(
    () => document.activeElement?.classList.contains('lm-CommandPalette-input') ?? false
  );
}

async function runPaletteCommand(label: string): Promise<void> {
  // Shortcuts are registered once the settings have loaded, which can follow the first
  // rendered cells: press until the palette's input has focus (keys typed before that
  // would be notebook shortcuts).
  const end = Date.now() + 30000;
  while (!(await paletteHasFocus())) {
    if (Date.now() > end) {
      throw new Error('the command palette did not open');
    }
    await page.keyboard.press('Control+Shift+C');
    await page.waitForTimeout(500);
  }
  await page.keyboard.type(label);
  const exact = new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  await page.locator('.lm-CommandPalette-itemLabel', { hasText: exact }).first().click();
}

beforeAll(async () => {
  expect(fs.existsSync(CHROMIUM)).toBe(true);
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'nbopt-e2e-'));
  const notebooks = path.join(root, 'notebooks');
  const home = path.join(root, 'jupyter');
  fs.mkdirSync(notebooks);
  fs.mkdirSync(path.join(home, 'config', 'labconfig'), { recursive: true });
  // No "news" question over the notebook: a closed network has none to give.
  fs.writeFileSync(
    path.join(home, 'config', 'labconfig', 'page_config.json'),
    JSON.stringify({ disabledExtensions: { '@jupyterlab/apputils-extension:announcements': true } })
  );
  const env = {
    ...process.env,
    JUPYTER_CONFIG_DIR: path.join(home, 'config'),
    JUPYTER_RUNTIME_DIR: path.join(home, 'runtime'),
    IPYTHONDIR: path.join(home, 'ipython'),
    TF_CPP_MIN_LOG_LEVEL: '2'
  };
  execFileSync(PYTHON, [path.join(__dirname, 'make_notebooks.py'), notebooks], {
    env,
    timeout: 300000,
    stdio: ['ignore', 'ignore', 'pipe']
  });
  expected = JSON.parse(fs.readFileSync(path.join(notebooks, 'expected.json'), 'utf8'));

  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(
    JUPYTER,
    [
      'lab',
      '--no-browser',
      '--ServerApp.ip=127.0.0.1',
      `--ServerApp.port=${port}`,
      '--ServerApp.port_retries=0',
      '--IdentityProvider.token=',
      '--ServerApp.password=',
      `--ServerApp.root_dir=${notebooks}`,
      `--LabApp.workspaces_dir=${path.join(home, 'workspaces')}`,
      `--LabApp.user_settings_dir=${path.join(home, 'settings')}`,
      // CI containers run as root; the server is on loopback with a temporary root folder.
      ...(process.getuid?.() === 0 ? ['--allow-root'] : [])
    ],
    { env, cwd: notebooks, detached: true, stdio: ['ignore', 'pipe', 'pipe'] }
  );
  server.stdout?.on('data', chunk => (serverLog += chunk));
  server.stderr?.on('data', chunk => (serverLog += chunk));
  await waitForServer(`${base}/api/status`, 90000);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 60000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync'
    ]
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(30000);
  fs.mkdirSync(SHOTS, { recursive: true });
}, 480000);

afterAll(async () => {
  await browser?.close();
  await stopServer();
  if (root) {
    fs.rmSync(root, { recursive: true, force: true });
  }
}, 60000);

test('jupyter labextension list shows nbopt and dask-labextension enabled and OK', () => {
  const listing = spawnSync(JUPYTER, ['labextension', 'list'], {
    encoding: 'utf8',
    timeout: 60000,
    env: { ...process.env, NO_COLOR: '1' }
  });
  expect(listing.status).toBe(0);
  // It writes its listing to stderr.
  const text = (listing.stdout + listing.stderr).replace(/\x1b\[[0-9;]*m/g, '');
  expect(text).toMatch(/nbopt v\d+\.\d+\.\d+ enabled OK/);
  expect(text).toMatch(/dask-labextension v\d+\.\d+\.\d+ enabled OK/);
});

test('a saved comparison renders as a table and a chart, with no code run', async () => {
  await openNotebook('saved.ipynb');
  const scope = cell(0);
  await scope.locator('.nbopt-comparison').waitFor({ timeout: 60000 });

  const rows = await tableTexts(scope);
  expect(rows).toHaveLength(expected.rows);
  // Same cells as written out independently (scheme, status, size, ratio, gzip, ..., metric,
  // delta; blank on the baseline where they compare with it), then the compatibility column.
  expect(rows.map(r => r.slice(1))).toEqual(expected.cells);
  const marked = rows
    .filter(r => r[0] === '◆')
    .map(r => r[1])
    .sort();
  expect(marked).toEqual(expected.pareto);
  expect(await scope.locator('.nbopt-note').allTextContents()).toEqual(expected.notes);

  const comparison = scope.locator('.nbopt-comparison');
  const schemeOf = (i: number): string => expected.schemes[i];
  await expectChart(comparison, expected.points, expected.pareto, schemeOf);
  await expectAxis(
    comparison,
    i => expected.sizes[schemeOf(i)],
    i => expected.accuracy[schemeOf(i)]
  );

  // Sorting by size puts the smallest variant first.
  await scope.locator('.nbopt-comparison th button', { hasText: /^size$/ }).click();
  const sorted = (await tableTexts(scope)).map(r => r[1]);
  const bySize = [...expected.cells].sort(
    (a, b) => parseFloat(a[2].replace(/,/g, '')) - parseFloat(b[2].replace(/,/g, ''))
  );
  expect(sorted[0]).toBe(bySize[0][0]);

  await scope.screenshot({ path: path.join(SHOTS, 'comparison.png') });

  // The RAM button redraws the chart against the RAM each variant needs, with its own front.
  await scope.locator('.nbopt-chart-x-button', { hasText: /^RAM$/ }).click();
  const xLabel = scope.locator('.nbopt-axis-label').first();
  expect(await xLabel.textContent()).toMatch(/^RAM \((KB|MB)(, log scale)?\), smaller is better$/);
  const withRam = Object.values(expected.ram).filter(v => v !== null).length;
  await expectChart(comparison, withRam, expected.pareto_ram, schemeOf);
  await expectAxis(
    comparison,
    i => expected.ram[schemeOf(i)]!,
    i => expected.accuracy[schemeOf(i)]
  );
  await scope.screenshot({ path: path.join(SHOTS, 'chart-ram.png') });
  await scope.locator('.nbopt-chart-x-button', { hasText: /^size$/ }).click();
  expect(await xLabel.textContent()).toMatch(/^size \((KB|MB)(, log scale)?\), smaller is better$/);
}, 180000);

/** Hover `target` (Playwright waits until the target itself gets the pointer) and read the
 * tooltip it shows. */
async function hoverTip(comparison: Locator, target: Locator): Promise<string> {
  await target.hover({ timeout: 10000 });
  const tip = comparison.locator('.nbopt-tooltip');
  await tip.waitFor({ state: 'visible', timeout: 5000 });
  return (await tip.textContent()) ?? '';
}

/**
 * Hover every label and every marker of the chart shown: each of `names` has a label whose
 * tooltip is its own line, and the same line shows when its marker is hovered.
 */
async function hoverEveryVariant(comparison: Locator, names: string[]): Promise<void> {
  const labels = comparison.locator('svg.nbopt-chart .nbopt-point-label');
  const byLabel = new Map<string, string>();
  for (let i = 0; i < (await labels.count()); i++) {
    const name = (await labels.nth(i).textContent()) ?? '';
    const tip = await hoverTip(comparison, labels.nth(i));
    expect(tip.startsWith(`${name}: `)).toBe(true);
    expect(tip.split('\n')).toHaveLength(1);
    byLabel.set(name, tip);
  }
  expect([...byLabel.keys()].sort()).toEqual([...names].sort());
  const markers = comparison.locator('svg.nbopt-chart circle[data-rows]');
  const seen: string[] = [];
  for (let i = 0; i < (await markers.count()); i++) {
    seen.push(...(await hoverTip(comparison, markers.nth(i))).split('\n'));
  }
  expect(seen.sort()).toEqual([...byLabel.values()].sort());
}

describe('a crowded comparison: the quick start and four more variants', () => {
  afterAll(() => page.setViewportSize({ width: 1400, height: 1000 }));

  test('shows the compatibility column and the numbered notes, and names I/O types', async () => {
    await openNotebook('crowded.ipynb');
    const scope = cell(0);
    await scope.locator('.nbopt-comparison').waitFor({ timeout: 60000 });
    // The output area 968 px wide, as a newcomer's was.
    const output = scope.locator('.jp-OutputArea-output').first();
    const wide = await output.evaluate(el => el.clientWidth);
    await page.setViewportSize({ width: 1400 + 968 - wide, height: 1000 });
    await page.waitForTimeout(500);
    expect(await output.evaluate(el => el.clientWidth)).toBe(968);
    const { crowded } = expected;
    const heads = await scope.locator('.nbopt-comparison thead th').allTextContents();
    expect(heads).toEqual(['◆', ...crowded.headings]);
    const rows = await tableTexts(scope);
    expect(rows.map(r => r[1])).toEqual(crowded.labels);
    expect(rows.map(r => r[r.length - 1])).toEqual(crowded.compat);
    expect(crowded.compat[0]).toBe('GPU ✓ · Edge TPU ✗ [1,2]');
    expect(crowded.labels).toContain('int8 (int8 I/O)');
    const notes = scope.locator('.nbopt-notes .nbopt-note');
    expect(await notes.allTextContents()).toEqual(crowded.notes);
    expect(await notes.first().isVisible()).toBe(true);
    await scope
      .locator('.nbopt-table-column')
      .screenshot({ path: path.join(SHOTS, 'compat-notes.png') });
  }, 120000);

  test('a table wider than the output area scrolls inside itself, its variant column fixed', async () => {
    const scope = cell(0);
    const box = scope.locator('.nbopt-table-box');
    const before = await scope.evaluate(el => {
      const output = el.querySelector('.jp-OutputArea-output')!;
      const comparison = el.querySelector('.nbopt-comparison')!;
      const tableBox = el.querySelector('.nbopt-table-box')!;
      return {
        output: output.clientWidth,
        outputScrolls: output.scrollWidth > output.clientWidth + 1,
        comparisonScrolls: comparison.scrollWidth > comparison.clientWidth + 1,
        table: tableBox.querySelector('table')!.offsetWidth,
        box: tableBox.clientWidth,
        boxScrolls: tableBox.scrollWidth > tableBox.clientWidth
      };
    });
    expect(before.output).toBe(968);
    expect(before.table).toBeGreaterThan(before.output);
    expect(before).toMatchObject({
      outputScrolls: false,
      comparisonScrolls: false,
      boxScrolls: true
    });
    // Before scrolling the last heading is cut; scrolled to the end it shows whole, and the
    // variant column has stayed at the left edge, over the cells that scrolled under it.
    const edges = (): Promise<{ [k: string]: number }> =>
      box.evaluate(b => {
        const area = b.getBoundingClientRect();
        const last = b.querySelector('thead th:last-child')!.getBoundingClientRect();
        const variant = b.querySelector('tbody tr td.nbopt-variant-col')!.getBoundingClientRect();
        const hit = document.elementFromPoint(variant.left + 4, variant.top + variant.height / 2);
        return {
          lastRight: last.right - area.right,
          variantLeft: variant.left - area.left,
          variantOnTop: hit?.closest('td')?.classList.contains('nbopt-variant-col') ? 1 : 0
        };
      });
    expect((await edges()).lastRight).toBeGreaterThan(1);
    await box.evaluate(b => (b.scrollLeft = b.scrollWidth));
    const after = await edges();
    expect(after.lastRight).toBeLessThanOrEqual(1);
    expect(Math.abs(after.variantLeft - 18)).toBeLessThanOrEqual(1);
    expect(after.variantOnTop).toBe(1);
    await scope
      .locator('.nbopt-table-column')
      .screenshot({ path: path.join(SHOTS, 'wide-table-scrolled.png') });
    await scope.screenshot({ path: path.join(SHOTS, 'wide-table-cell.png') });
    await box.evaluate(b => (b.scrollLeft = 0));
  }, 60000);

  test('every variant of the crowded chart can be found and hovered, on size and on RAM', async () => {
    const scope = cell(0);
    const comparison = scope.locator('.nbopt-comparison');
    const { crowded } = expected;
    const drawn = async (): Promise<number[][]> =>
      (await markersOf(comparison)).map(m => m.rows).sort();
    expect(await drawn()).toEqual([...crowded.markers.size].sort());
    // dynamic, int8, int16x8 and int8 with int8 I/O (156 to 161 KB, 96.1%): one marker
    expect(crowded.markers.size).toContainEqual([2, 3, 4, 5]);
    await expectChart(comparison, crowded.labels.length, null, i => crowded.labels[i]);
    await hoverEveryVariant(comparison, crowded.labels);
    await hoverTip(comparison, comparison.locator('circle[data-rows="2 3 4 5"]'));
    await comparison
      .locator('.nbopt-chart-box')
      .screenshot({ path: path.join(SHOTS, 'crowded-chart.png') });

    await comparison.locator('.nbopt-chart-x-button', { hasText: /^RAM$/ }).click();
    expect(await comparison.locator('.nbopt-axis-label').first().textContent()).toBe(
      'RAM (KB, log scale), smaller is better'
    );
    expect(await drawn()).toEqual([...crowded.markers.RAM].sort());
    await expectChart(comparison, crowded.labels.length, null, i => crowded.labels[i]);
    await hoverEveryVariant(comparison, crowded.labels);
    await hoverTip(comparison, comparison.locator('.nbopt-point-label', { hasText: /^int8$/ }));
    await comparison
      .locator('.nbopt-chart-box')
      .screenshot({ path: path.join(SHOTS, 'ram-log-axis.png') });
  }, 180000);
});

test('a comparison saved before payload version 2 still renders', async () => {
  await openNotebook('saved_v1.ipynb');
  const scope = cell(0);
  await scope.locator('.nbopt-comparison').waitFor({ timeout: 60000 });
  expect(await scope.locator('.nbopt-caption').textContent()).toBe('nbopt: model · 5 variants');
  const rows = await tableTexts(scope);
  expect(rows.map(r => r.slice(1, 5))).toEqual([
    ['float32', 'ok', '603.3 KB', '1.00×'],
    ['float16', 'ok', '304.0 KB', '1.99×'],
    ['dynamic', 'ok', '155.9 KB', '3.87×'],
    ['int8', 'ok', '158.8 KB', '3.80×'],
    ['int16x8', 'ok', '161.2 KB', '3.74×']
  ]);
  expect(await scope.locator('.nbopt-point-label').count()).toBe(5);
  await scope.screenshot({ path: path.join(SHOTS, 'saved-v1.png') });
}, 120000);

test('%quantize in a running kernel renders its comparison', async () => {
  await openNotebook('live.ipynb');
  await cell(0).locator('.jp-InputArea-prompt').click();
  await runPaletteCommand('Run All Cells');
  await cell(3).waitFor({ timeout: 30000 });
  const scope = cell(3);
  // The comparison shows while it runs and fills in row by row: wait for all three.
  await scope.locator('.nbopt-comparison tbody tr.nbopt-row').nth(2).waitFor({ timeout: 420000 });
  let rows = await tableTexts(scope);
  for (let tries = 0; rows.length < 3 && tries < 50; tries++) {
    await page.waitForTimeout(200); // the live view is being replaced by the result
    rows = await tableTexts(scope);
  }
  expect(rows.map(r => r[1])).toEqual(['float32', 'float16', 'dynamic']);
  expect(rows.map(r => r[2])).toEqual(['ok', 'ok', 'ok']);
  expect(await scope.locator('.nbopt-point-label').count()).toBe(expected.live_rows);
  await page.screenshot({ path: path.join(SHOTS, 'live.png') });
}, 480000);

test('"Quantize a model…" inserts a %quantize cell for the kernel\'s model', async () => {
  const cells = page.locator(`${NOTEBOOK} .jp-Cell`);
  const before = await cells.count();
  await cell(3).locator('.jp-InputArea-prompt').click();
  await runPaletteCommand('Quantize a model…');
  await cell(before).waitFor({ timeout: 30000 });
  expect(await cells.count()).toBe(before + 1);
  expect(await activeCellSource()).toBe(
    '%quantize model --scheme float16,dynamic,int8 --calib x_train[:256] --eval x_test,y_test'
  );
  await page.screenshot({ path: path.join(SHOTS, 'command.png') });
}, 120000);

test('the context menu\'s "nbopt › Prune a model…" inserts a %prune cell', async () => {
  const cells = page.locator(`${NOTEBOOK} .jp-Cell`);
  const before = await cells.count();
  await page.keyboard.press('Escape');
  await cell(3).locator('.jp-InputArea-prompt').click({ button: 'right' });
  await page.locator('.lm-Menu .lm-Menu-itemLabel', { hasText: /^nbopt$/ }).hover();
  await page.locator('.lm-Menu .lm-Menu-itemLabel', { hasText: /^Prune a model…$/ }).click();
  await cell(before).waitFor({ timeout: 30000 });
  expect(await cells.count()).toBe(before + 1);
  expect(await activeCellSource()).toBe(
    '%prune model --sparsity 0.8 --fit x_train,y_train --epochs 2 --eval x_test,y_test'
  );
}, 120000);

/** One measured row of the panel, as the kernel prints it. */
interface IPanelRow {
  variant: string;
  status: string;
  size_bytes: number;
  accuracy: number;
}

/** A marker of a comparison chart: the payload rows it stands for, its centre, its mark. */
interface IMarker {
  rows: number[];
  x: number;
  y: number;
  r: number;
  pareto: boolean;
  tip: string;
}

/** The comparisons rendered in `scope`: inside a widget (the panel's live view) or not. */
async function comparisons(scope: Locator): Promise<{ live: number; saved: number }> {
  return scope.locator('.nbopt-comparison').evaluateAll(els => ({
    live: els.filter(el => el.closest('.jupyter-widgets') !== null).length,
    saved: els.filter(el => el.closest('.jupyter-widgets') === null).length
  }));
}

async function markersOf(comparison: Locator): Promise<IMarker[]> {
  return comparison.locator('svg.nbopt-chart circle[data-rows]').evaluateAll(cs =>
    cs.map(c => ({
      rows: (c.getAttribute('data-rows') ?? '')
        .split(' ')
        .filter(r => r !== '')
        .map(Number),
      x: Number(c.getAttribute('cx')),
      y: Number(c.getAttribute('cy')),
      r: Number(c.getAttribute('r')),
      pareto: c.classList.contains('nbopt-pareto'),
      tip: c.getAttribute('aria-label') ?? ''
    }))
  );
}

/**
 * The chart's axes as the browser shows them: its first and last tick texts read back into
 * values (KB or MB, %), and from them the maps from a value to the chart's units, linear or
 * log as the axis label says.
 */
async function axesOf(
  comparison: Locator
): Promise<{ x: (v: number) => number; y: (v: number) => number }> {
  const read = await comparison.locator('svg.nbopt-chart').evaluate(svg => ({
    label: svg.querySelector('.nbopt-axis-label')?.textContent ?? '',
    x: Array.from(svg.querySelectorAll('.nbopt-tick-x')).map(
      t => [t.textContent ?? '', Number(t.getAttribute('x'))] as [string, number]
    ),
    y: Array.from(svg.querySelectorAll('.nbopt-tick-y')).map(
      t => [t.textContent ?? '', Number(t.getAttribute('y')) - 4] as [string, number]
    )
  }));
  const unit = /\(MB/.test(read.label) ? 1024 * 1024 : 1024;
  const same = (v: number): number => v;
  const fit = (
    ticks: [string, number][],
    value: (text: string) => number,
    f: (v: number) => number
  ): ((v: number) => number) => {
    const [a, b] = [ticks[0], ticks[ticks.length - 1]];
    const [fa, fb] = [f(value(a[0])), f(value(b[0]))];
    return v => a[1] + ((f(v) - fa) / (fb - fa)) * (b[1] - a[1]);
  };
  const number = (text: string): number => Number(text.replace(/[,%]/g, ''));
  return {
    x: fit(read.x, t => number(t) * unit, read.label.includes('log scale') ? Math.log10 : same),
    y: fit(read.y, t => (t.endsWith('%') ? number(t) / 100 : number(t)), same)
  };
}

/**
 * Assert that each marker sits where its variants' values put it on the axes its ticks
 * show (a marker of several: at their mean).
 */
async function expectAxis(
  comparison: Locator,
  xOf: (row: number) => number,
  yOf?: (row: number) => number
): Promise<void> {
  const axes = await axesOf(comparison);
  const mean = (vs: number[]): number => vs.reduce((a, b) => a + b, 0) / vs.length;
  for (const m of await markersOf(comparison)) {
    expect(Math.abs(mean(m.rows.map(i => axes.x(xOf(i)))) - m.x)).toBeLessThan(0.6);
    if (yOf) {
      expect(Math.abs(mean(m.rows.map(i => axes.y(yOf(i)))) - m.y)).toBeLessThan(0.6);
    }
  }
}

/**
 * Assert that the chart shown in `comparison` has each of its `count` variants in one
 * marker and under one label of its own, that its marked markers are the Pareto front's
 * (`pareto`, if given), and that no text overprints another or a marker.
 */
async function expectChart(
  comparison: Locator,
  count: number,
  pareto: string[] | null,
  nameOf: (row: number) => string
): Promise<void> {
  const markers = await markersOf(comparison);
  const rows = markers.flatMap(m => m.rows).sort((a, b) => a - b);
  expect(new Set(rows).size).toBe(count);
  expect(rows).toHaveLength(count);
  const labels = await comparison
    .locator('.nbopt-point-label')
    .evaluateAll(ts =>
      ts.map(t => ({ text: t.textContent ?? '', row: Number(t.getAttribute('data-rows')) }))
    );
  expect(labels.map(l => l.row).sort((a, b) => a - b)).toEqual(rows);
  for (const label of labels) {
    expect(label.text).toBe(nameOf(label.row));
  }
  if (pareto) {
    const marked = markers.filter(m => m.pareto).map(m => m.rows.map(nameOf));
    expect(pareto.every(name => marked.some(names => names.includes(name)))).toBe(true);
    expect(marked.every(names => names.some(name => pareto.includes(name)))).toBe(true);
    const diamonds = await comparison
      .locator('tbody tr.nbopt-pareto')
      .evaluateAll(trs => trs.map(tr => tr.querySelectorAll('td')[1]?.textContent ?? ''));
    diamonds.sort();
    expect(diamonds).toEqual([...pareto].sort());
  }
  expect(await overprints(comparison)).toEqual([]);
}

/**
 * Pairs of overprinting chart texts in `comparison`, measured by the browser (`getBBox`):
 * point labels against each other and against points, tick labels against each other.
 */
async function overprints(comparison: Locator): Promise<string[]> {
  return comparison.locator('svg.nbopt-chart').evaluate(svg => {
    const box = (el: Element): DOMRect => (el as SVGGraphicsElement).getBBox();
    const hit = (a: DOMRect, b: DOMRect): boolean =>
      a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
    const labels = Array.from(svg.querySelectorAll('.nbopt-point-label'));
    const circles = Array.from(svg.querySelectorAll('circle[data-rows]'));
    const ticks = Array.from(svg.querySelectorAll('.nbopt-tick'));
    const out: string[] = [];
    labels.forEach((a, i) => {
      labels.slice(i + 1).forEach(b => {
        if (hit(box(a), box(b))) {
          out.push(`${a.textContent} / ${b.textContent}`);
        }
      });
      circles.forEach(c => {
        if (hit(box(a), box(c))) {
          out.push(`${a.textContent} / point ${c.getAttribute('aria-label')}`);
        }
      });
    });
    ticks.forEach((a, i) =>
      ticks.slice(i + 1).forEach(b => {
        if (hit(box(a), box(b))) {
          out.push(`tick ${a.textContent} / ${b.textContent}`);
        }
      })
    );
    return out;
  });
}

/** Click through the menu bar: a top menu, then items (submenus are hovered). */
async function menu(top: string, ...items: string[]): Promise<void> {
  const exact = (label: string): RegExp =>
    new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  await page.locator('.lm-MenuBar-itemLabel', { hasText: exact(top) }).click();
  for (const [i, item] of items.entries()) {
    const entry = page.locator('.lm-Menu-itemLabel', { hasText: exact(item) }).last();
    if (i < items.length - 1) {
      await entry.hover();
    } else {
      await entry.click();
    }
  }
}

/** Wait until `locator`'s text is `text`. */
async function waitForText(locator: Locator, text: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while ((await locator.textContent())?.trim() !== text) {
    if (Date.now() > end) {
      throw new Error(`"${await locator.textContent()}" is not "${text}"`);
    }
    await page.waitForTimeout(250);
  }
}

/** Press a dialog's `label` button if the dialog appears within two seconds. */
async function confirmIfAsked(label: string): Promise<void> {
  const button = page.locator('.jp-Dialog button', { hasText: new RegExp(`^${label}$`) });
  try {
    await button.waitFor({ timeout: 2000 });
  } catch {
    return;
  }
  await button.click();
}

/**
 * Click a dialog's `label` button whenever it shows (a loaded machine can take more than
 * {@link confirmIfAsked}'s two seconds to show it) until `locator`'s text is `text`.
 */
async function answerUntil(
  label: string,
  locator: Locator,
  text: string,
  timeoutMs: number
): Promise<void> {
  const button = page.locator('.jp-Dialog button', { hasText: new RegExp(`^${label}$`) });
  const end = Date.now() + timeoutMs;
  while ((await locator.textContent())?.trim() !== text) {
    if (Date.now() > end) {
      throw new Error(`"${await locator.textContent()}" is not "${text}"`);
    }
    if (await button.isVisible()) {
      await button.click();
    }
    await page.waitForTimeout(250);
  }
}

/** A multi-line string of a notebook file (a list of lines) as one string. */
function joined(text: unknown): string {
  return Array.isArray(text) ? text.join('') : String(text);
}

/** A screenshot of a whole cell, in a viewport tall enough to hold it. */
async function screenshotCell(scope: Locator, name: string): Promise<void> {
  const viewport = page.viewportSize();
  await page.setViewportSize({ width: 1400, height: 2400 });
  await scope.scrollIntoViewIfNeeded();
  await page.waitForTimeout(500);
  await scope.screenshot({ path: path.join(SHOTS, name) });
  if (viewport) {
    await page.setViewportSize(viewport);
  }
}

/** The notebook file as saved on disk. */
function readNotebook(name: string): {
  metadata: { [key: string]: unknown };
  cells: { outputs?: { output_type: string; data?: { [mime: string]: unknown } }[] }[];
} {
  return JSON.parse(fs.readFileSync(path.join(root, 'notebooks', name), 'utf8'));
}

describe('the panel', () => {
  const errors: string[] = [];
  let rows: IPanelRow[] = [];

  test('a panel run shows its comparison live, then exports the chosen variant', async () => {
    page.on('console', message => {
      if (message.type() === 'error') {
        errors.push(message.text());
      }
    });
    page.on('pageerror', error => errors.push(error.message));
    await openNotebook('panel.ipynb');
    await cell(0).locator('.jp-InputArea-prompt').click();
    await runPaletteCommand('Run All Cells');
    const scope = cell(3);
    const checkbox = (label: string): Locator =>
      scope.locator('.widget-checkbox', { hasText: label }).locator('input');
    await checkbox('float16').waitFor({ timeout: 420000 });

    // Disabled choices say, visibly beside them, what to pass.
    expect(await checkbox('pruning').isDisabled()).toBe(true);
    const hint = scope.getByText('needs --fit x_train,y_train (fit=(x, y))').first();
    expect(await hint.isVisible()).toBe(true);
    // Export waits for a variant.
    const exportButton = scope.locator('button', { hasText: /^Export$/ });
    expect(await exportButton.isDisabled()).toBe(true);

    // int8 is recommended (calibration data given); add float16 and dynamic.
    expect(await checkbox('full integer (int8)').isChecked()).toBe(true);
    await checkbox('float16').check();
    await checkbox('dynamic range').check();
    // While it runs, the panel shows the rows measured so far through the comparison renderer.
    // A run whose conversions are cached is over in a second or two, faster than polling can
    // see, so every caption the live view shows is recorded as the DOM changes.
    await scope.evaluate(element => {
      const seen: string[] = [];
      (window as unknown as { nboptLive: string[] }).nboptLive = seen;
      new MutationObserver(() => {
        element
          .querySelectorAll('.jupyter-widgets .nbopt-comparison .nbopt-caption')
          .forEach(caption => {
            const text = caption.textContent ?? '';
            if (!seen.includes(text)) {
              seen.push(text);
            }
          });
      }).observe(element, { subtree: true, childList: true, characterData: true });
    });
    await scope.locator('button', { hasText: /^Run$/ }).click();
    const live = scope.locator('.jupyter-widgets .nbopt-comparison');
    try {
      await live.waitFor({ timeout: 5000 });
      await screenshotCell(scope, 'panel-live.png');
    } catch {
      // Over before a screenshot could be taken; the captions below still show it was live.
    }
    await scope.getByText(/^done: 4 rows in/).waitFor({ timeout: 420000 });
    const captions = await page.evaluate(
      () => (window as unknown as { nboptLive: string[] }).nboptLive
    );
    // Rows arrive one by one: the live view showed a part of the run before its end.
    expect(captions.some(text => /\(running\) · [123] variants?$/.test(text))).toBe(true);

    // The kernel's own rows, to check the table and the chart against.
    await cell(4).locator('.jp-InputArea-prompt').click();
    await page.keyboard.press('Control+Enter');
    const printed = cell(4).locator('.jp-OutputArea-output', { hasText: /^\[\{/ });
    await printed.waitFor({ timeout: 60000 });
    rows = JSON.parse((await printed.textContent()) ?? '[]');
    expect(rows.map(r => r.variant)).toEqual(['float32', 'float16', 'dynamic', 'int8']);
    expect(rows.map(r => r.status)).toEqual(['ok', 'ok', 'ok', 'ok']);

    // At the end the comparison moved from the live view into the cell's own output.
    await expect(comparisons(scope)).resolves.toEqual({ live: 0, saved: 1 });
    for (const comparison of [scope.locator('.nbopt-comparison')]) {
      const variants = await comparison
        .locator('tbody tr')
        .evaluateAll(trs => trs.map(tr => tr.querySelectorAll('td')[1]?.textContent ?? ''));
      expect(variants).toEqual(rows.map(r => r.variant));
      await expectChart(comparison, rows.length, null, i => rows[i].variant);
      await expectAxis(
        comparison,
        i => rows[i].size_bytes,
        i => rows[i].accuracy
      );
      expect(await overprints(comparison)).toEqual([]);
    }

    // The last measured variant is chosen; Export writes it.
    const variant = scope.locator('.widget-dropdown', { hasText: 'variant' }).locator('select');
    expect(await variant.evaluate(s => (s as HTMLSelectElement).selectedOptions[0]?.text)).toBe(
      'int8'
    );
    expect(await exportButton.isDisabled()).toBe(false);
    await screenshotCell(scope, 'panel-run.png');
    await exportButton.click();
    await scope.getByText(/^wrote /).waitFor({ timeout: 30000 });
    const written = path.join(root, 'notebooks', 'exported', 'model_int8.tflite');
    expect(fs.statSync(written).size).toBe(rows.find(r => r.variant === 'int8')!.size_bytes);
    const csv = fs.readFileSync(path.join(root, 'notebooks', 'exported', 'model_results.csv'));
    expect(csv.toString().split('\n')[0].startsWith('variant,')).toBe(true);

    // Debug int8: the per-layer table and chart, and a checkbox per layer to keep float.
    await scope.locator('button', { hasText: /^Debug int8$/ }).click();
    const report = scope.locator('.jupyter-widgets .nbopt-debug');
    await report.locator('svg.nbopt-debug-chart').waitFor({ timeout: 420000 });
    expect(await report.locator('.nbopt-bar').count()).toBe(5);
    expect(await report.locator('tbody tr').count()).toBe(5);
    const floatButton = scope.locator('button', { hasText: /^Quantize with these layers float$/ });
    expect(await floatButton.isVisible()).toBe(true);
    // A checkbox per layer of the report, in its order (most harmful first).
    const layers = await report
      .locator('tbody tr')
      .evaluateAll(trs => trs.map(tr => tr.querySelector('td')?.textContent ?? ''));
    const labels = await scope
      .locator('.widget-checkbox')
      .evaluateAll(boxes => boxes.map(b => (b.textContent ?? '').replace(/\u200b/g, '').trim()));
    expect(labels.slice(-layers.length)).toEqual(layers);
    // The table is wider than the panel: it scrolls inside the report instead of being cut.
    const fit = await report.locator('.nbopt-scroll').evaluate(box => ({
      scrolls: box.scrollWidth > box.clientWidth,
      inside:
        box.getBoundingClientRect().right <=
        box.closest('.nbopt-debug')!.getBoundingClientRect().right + 1
    }));
    expect(fit).toEqual({ scrolls: true, inside: true });
    await screenshotCell(scope, 'panel-debug.png');

    expect(errors).toEqual([]);
  }, 600000);

  test('the saved notebook shows what the panel measured, without a kernel', async () => {
    await cell(3).locator('.jp-InputArea-prompt').click();
    await page.keyboard.press('Control+s');
    const end = Date.now() + 30000;
    let outputs = readNotebook('panel.ipynb').cells[3].outputs ?? [];
    while (!outputs.some(o => o.data?.[COMPARISON] !== undefined) && Date.now() < end) {
      await page.waitForTimeout(500);
      outputs = readNotebook('panel.ipynb').cells[3].outputs ?? [];
    }
    // The widget, then the comparison; the widget's text is one line.
    expect(outputs.map(o => Object.keys(o.data ?? {}).sort())).toEqual([
      ['application/vnd.jupyter.widget-view+json', 'text/plain'],
      [COMPARISON, 'text/html', 'text/plain']
    ]);
    expect(joined(outputs[0].data!['text/plain'])).toBe(
      "nbopt panel for 'model' (4 variants measured)"
    );
    const payload = outputs[1].data![COMPARISON] as { rows: { scheme: string }[] };
    expect(payload.rows.map(r => r.scheme)).toEqual(rows.map(r => r.variant));

    // The same file, shown with no kernel: shut the kernel down, then reload the file.
    fs.copyFileSync(
      path.join(root, 'notebooks', 'panel.ipynb'),
      path.join(root, 'notebooks', 'panel_saved.ipynb')
    );
    await openNotebook('panel_saved.ipynb');
    const kernelName = page.locator(`${NOTEBOOK} .jp-Toolbar .jp-KernelName`).first();
    await waitForText(kernelName, 'Python 3 (ipykernel)', 60000);
    await cell(0).locator('.jp-InputArea-prompt').click();
    await menu('Kernel', 'Shut Down Kernel');
    await answerUntil('Shut Down', kernelName, 'No Kernel', 60000);
    await menu('File', 'Reload Notebook from Disk');
    await confirmIfAsked('Reload');
    const scope = cell(3);
    await scope.locator('.nbopt-comparison').waitFor({ timeout: 60000 });
    const table = await tableTexts(scope);
    expect(table.map(r => r[1])).toEqual(rows.map(r => r.variant));
    const comparison = scope.locator('.nbopt-comparison');
    await expectChart(comparison, rows.length, null, i => rows[i].variant);
    await expectAxis(
      comparison,
      i => rows[i].size_bytes,
      i => rows[i].accuracy
    );
    const widgetText = await scope.locator('.jp-OutputArea-output').first().textContent();
    // JupyterLab's widget renderer shows its own one line (no kernel: "Loading widget...");
    // never the widget's raw repr.
    expect(widgetText?.trim().split('\n')).toHaveLength(1);
    expect(widgetText).not.toContain('Panel(');
    expect(await kernelName.textContent()).toBe('No Kernel');
    await screenshotCell(scope, 'panel-saved.png');
  }, 180000);

  test('the saved comparison reads in the dark theme', async () => {
    await menu('Settings', 'Theme', 'JupyterLab Dark');
    await page.waitForFunction(() => document.body.dataset.jpThemeLight === 'false', null, {
      timeout: 30000
    });
    const scope = cell(3);
    const comparison = scope.locator('.nbopt-comparison');
    // Text is light on the dark background: the chart's labels and the table's cells.
    const luminance = await comparison.evaluate(el => {
      const rgb = (css: string): number[] => (css.match(/\d+(\.\d+)?/g) ?? []).map(Number);
      const light = (css: string): number => {
        const [r, g, b] = rgb(css);
        return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
      };
      const label = el.querySelector('.nbopt-point-label')!;
      const td = el.querySelector('tbody td:nth-child(2)')!;
      return {
        label: light(getComputedStyle(label).fill),
        cell: light(getComputedStyle(td).color)
      };
    });
    expect(luminance.label).toBeGreaterThan(0.6);
    expect(luminance.cell).toBeGreaterThan(0.6);
    expect(await overprints(comparison)).toEqual([]);
    await screenshotCell(scope, 'panel-saved-dark.png');
    await menu('Settings', 'Theme', 'JupyterLab Light');
  }, 120000);
});

test("a sweep's dashboard link opens its plots in the Dask sidebar", async () => {
  await openNotebook('dashboard.ipynb');
  await cell(0).locator('.jp-InputArea-prompt').click();
  await runPaletteCommand('Run All Cells');
  // The first sweep of the kernel starts a LocalCluster and prints its dashboard's link.
  const announced = cell(3).locator('.jp-OutputArea-output', { hasText: '; dashboard ' });
  await announced.waitFor({ timeout: 300000 });
  const link = /; dashboard (\S+)/.exec((await announced.textContent()) ?? '')?.[1];
  expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/status$/);

  // While the sweep runs, the Dask sidebar takes the link and lists the dashboard's plots.
  await page.locator('.jp-SideBar .lm-TabBar-tab[data-id="dask-dashboard-launcher"]').click();
  const input = page.locator('.dask-URLInput input');
  await input.fill(link!);
  await input.press('Enter');
  const plots = page.locator('.dask-DashboardListing-item button');
  const taskStream = plots.filter({ hasText: /^Task Stream$/ });
  await taskStream.waitFor({ timeout: 30000 });
  expect(await plots.allTextContents()).toEqual(
    expect.arrayContaining(['Task Stream', 'Progress', 'Workers', 'Workers Memory'])
  );

  // A pane opens in the main area and bokeh draws it from the dashboard.
  await taskStream.click();
  const pane = page.frameLocator('.dask-DaskDashboard-widget:not(.lm-mod-hidden) iframe');
  const canvas = pane.locator('canvas').first();
  await canvas.waitFor({ timeout: 30000 });
  const size = await canvas.evaluate(c => [
    (c as HTMLCanvasElement).width,
    (c as HTMLCanvasElement).height
  ]);
  expect(Math.min(...size)).toBeGreaterThan(100);
  // Its axes and grid are drawn: pixels that are neither transparent nor white.
  const end = Date.now() + 30000;
  while ((await inkedPixels(canvas)) === 0) {
    if (Date.now() > end) {
      throw new Error('the Task Stream pane stayed blank');
    }
    await page.waitForTimeout(250);
  }
  await page.screenshot({ path: path.join(SHOTS, 'dashboard.png') });
  // Back in the notebook, the sweep ends with its comparison: the float32 baseline and float16.
  await page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'dashboard.ipynb' }).click();
  const rows = cell(3).locator('.nbopt-comparison tbody tr.nbopt-row');
  await rows.nth(1).waitFor({ timeout: 300000 });
  expect((await tableTexts(cell(3))).map(r => r.slice(1, 3))).toEqual([
    ['float32', 'ok'],
    ['float16', 'ok']
  ]);
  await cell(3).screenshot({ path: path.join(SHOTS, 'dashboard-sweep.png') });
  // The workers' own output (TensorFlow's start-up lines) stays out of the cell.
  expect(
    await cell(3)
      .locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
      .count()
  ).toBe(0);
  // With the cell done, the sidebar's search button finds the same dashboard in the kernel.
  await input.fill('');
  await input.press('Enter');
  await page.locator('.dask-URLInput').getByTitle('Auto-detect dashboard URL').click();
  await page.waitForFunction(
    url => (document.querySelector('.dask-URLInput input') as HTMLInputElement).value === url,
    link!.replace(/status$/, ''),
    { timeout: 30000 }
  );
  await taskStream.waitFor({ timeout: 30000 });

  // Where 127.0.0.1 is not the browser's (JupyterHub, Binder), jupyter-server-proxy forwards
  // the same dashboard under the lab's own address: its pane loads from there.
  const port = new URL(link!).port;
  await input.fill(`proxy/${port}/status`);
  await input.press('Enter');
  await taskStream.click();
  const proxiedPane = `.dask-DaskDashboard-widget:not(.lm-mod-hidden) iframe[src="${base}/proxy/${port}/individual-task-stream"]`;
  await page.frameLocator(proxiedPane).locator('canvas').first().waitFor({ timeout: 30000 });
}, 420000);

/** The pixels of a 2D `canvas` that are neither transparent nor white. */
async function inkedPixels(canvas: Locator): Promise<number> {
  return canvas.evaluate(c => {
    const { width, height } = c as HTMLCanvasElement;
    const data = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, width, height).data;
    let inked = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] > 0 && Math.min(data[i], data[i + 1], data[i + 2]) < 250) {
        inked++;
      }
    }
    return inked;
  });
}
