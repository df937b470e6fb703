/**
 * API status reads under load: GET /v1/training-runs/:id (auth, owner-scoped query, JSON) with
 * autocannon at a fixed concurrency, against a trivial Fastify route in the same process as the
 * reference, so the ratio says what our route costs beyond the framework. The load generator runs
 * in a worker thread: sharing the server's event loop, it would add its own CPU to every latency.
 *
 * Measured on both databases: embedded PGlite (the default, one process) runs every query on the
 * API's own thread, about 0.5 ms for `select 1` and 1.5 ms for a run row here, so it caps reads at
 * a few hundred per second; PostgreSQL (DATABASE_URL, the scale-out mode) runs them in its server.
 */
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { benchPostgresServer, seedCharacters, startBenchApp, type BenchRow } from './bench-kit.js';

/** `load`: seconds of load, or `{ requests }` for a fixed count (warm-ups). */
function cannon(url: string, headers: Record<string, string>, load: number | { requests: number }, rate?: number): Promise<autocannon.Result> {
  const size = typeof load === 'number' ? { duration: load } : { amount: load.requests };
  return new Promise((resolve, reject) => {
    autocannon({ url, headers, connections: 10, ...size, overallRate: rate, workers: 1 }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** Enough requests to compile the route and fill the token cache, without a second of load. */
const WARM_UP = { requests: 500 };

async function statusReads(label: string, databaseServer: string | undefined, seconds: number, reference: autocannon.Result): Promise<BenchRow[]> {
  const b = await startBenchApp({ LIKENESS_EMULATOR_TRAIN_SECONDS: '3600', LIKENESS_POLL_SECONDS: '5' }, { databaseServer });
  try {
    const { token, characterIds } = await seedCharacters(b, 1);
    const run = await b.call('POST', `/v1/characters/${characterIds[0]}/lora/train`, token, {});
    const url = `${b.url}/v1/training-runs/${run.id}`;
    const headers = { authorization: `Bearer ${token}` };
    await cannon(url, headers, WARM_UP);
    const ours = await cannon(url, headers, seconds);
    const at500 = await cannon(url, headers, seconds, 500);
    if (ours.non2xx > 0 || at500.non2xx > 0) throw new Error(`status reads failed: ${ours.non2xx + at500.non2xx} non-2xx answers`);
    return [
      { name: `status read throughput, ${label} (10 connections)`, value: ours.requests.average, unit: 'req/s', reference: { name: 'trivial Fastify route', value: reference.requests.average } },
      { name: `status read latency p50, ${label} (10 connections, saturated)`, value: ours.latency.p50, unit: 'ms', reference: { name: 'trivial route p50', value: reference.latency.p50 } },
      // Below 500 req/s capacity the offered rate is not reached: say what was served.
      { name: `status read latency p99, ${label}, 500 req/s offered (${Math.round(at500.requests.average)} served)`, value: at500.latency.p99, unit: 'ms', target: '< 20 ms', meets: at500.latency.p99 < 20 && at500.requests.average >= 475 },
    ];
  } finally {
    await b.close();
  }
}

export async function runApiLatencyBench(opts: { quick: boolean }): Promise<BenchRow[]> {
  const seconds = opts.quick ? 2 : 6;
  const trivial = Fastify();
  trivial.get('/ping', async () => ({ ok: true }));
  await trivial.listen({ host: '127.0.0.1', port: 0 });
  const rows: BenchRow[] = [];
  try {
    const address = trivial.server.address() as { port: number };
    await cannon(`http://127.0.0.1:${address.port}/ping`, {}, WARM_UP);
    const ref = await cannon(`http://127.0.0.1:${address.port}/ping`, {}, seconds);
    rows.push(...(await statusReads('PGlite', undefined, seconds, ref)));
    const server = benchPostgresServer();
    if (server) rows.push(...(await statusReads('PostgreSQL', server, seconds, ref)));
    else rows.push({ name: 'status reads on PostgreSQL: not measured (no server: set LIKENESS_BENCH_DATABASE_URL or install postgresql)', value: NaN, unit: 'ms' });
  } finally {
    await trivial.close();
  }
  return rows;
}
