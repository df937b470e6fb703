/**
 * `npm run bench [-- --quick]`: where Likeness stands, as one table. Each row is a figure with its
 * unit and, where there is one, the reference measured in the same run and the target from the
 * issue. Not a test: nothing here fails the build.
 */
import os from 'node:os';
import { runOrchestrationBench } from './orchestration.bench.js';
import { runTrackingBench } from './tracking.bench.js';
import { runApiLatencyBench } from './api-latency.bench.js';
import { runIdentityBench } from './identity.bench.js';
import { runWorkflowBench } from './workflow.bench.js';
import type { BenchRow } from './bench-kit.js';

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');
/** `--tracking-sizes=1000`: the tracking suite at these sizes only (profiling one size). */
const trackingSizes = process.argv.find((a) => a.startsWith('--tracking-sizes='))?.slice(17).split(',').map(Number);

const SUITES: Array<[string, () => Promise<BenchRow[]>]> = [
  ['orchestration', () => runOrchestrationBench({ quick })],
  ['api', () => runApiLatencyBench({ quick })],
  ['tracking', () => runTrackingBench({ quick, sizes: trackingSizes })],
  ['identity', async () => (await runIdentityBench({ quick })).map((r) => (r.target ? { ...r, meets: r.value >= 30 } : r)) as BenchRow[]],
  ['workflow', async () => (await runWorkflowBench({ quick })) as BenchRow[]],
];

function fmt(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

const started = performance.now();
console.log(`Likeness benchmarks${quick ? ' (quick)' : ''}: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'cpu'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);
const rows: Array<BenchRow & { suite: string }> = [];
for (const [suite, run] of SUITES) {
  if (only && !only.includes(suite)) continue;
  const t0 = performance.now();
  try {
    for (const r of await run()) rows.push({ ...r, suite });
  } catch (err) {
    rows.push({ suite, name: `FAILED: ${(err as Error).message}`, value: NaN, unit: '' });
  }
  console.error(`  ${suite} done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

const table = rows.map((r) => ({
  suite: r.suite,
  figure: r.name,
  value: fmt(r.value),
  unit: r.unit,
  reference: r.reference ? `${fmt(r.reference.value)} (${r.reference.name})` : '',
  // A reference of 0 (a p50 under autocannon's 1 ms resolution) has no meaningful ratio.
  ratio: r.reference && Number.isFinite(r.value / r.reference.value) ? `${fmt(r.value / r.reference.value)}x` : '',
  target: r.target ?? '',
  meets: r.meets === undefined ? '' : r.meets ? 'yes' : 'NO',
}));
const cols = Object.keys(table[0] ?? { figure: '' }) as (keyof (typeof table)[number])[];
const width = Object.fromEntries(cols.map((c) => [c, Math.max(c.length, ...table.map((t) => String(t[c]).length))]));
const line = (cells: Record<string, string>) => `| ${cols.map((c) => String(cells[c]).padEnd(width[c]!)).join(' | ')} |`;
console.log(line(Object.fromEntries(cols.map((c) => [c, c]))));
console.log(`|${cols.map((c) => '-'.repeat(width[c]! + 2)).join('|')}|`);
for (const t of table) console.log(line(t));
console.log(`\n${((performance.now() - started) / 1000).toFixed(0)} s in all.`);
process.exit(0);
