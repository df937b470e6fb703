/**
 * API status reads under load: GET /v1/training-runs/:id (auth, owner-scoped query, JSON) with
 * autocannon at a fixed concurrency, against a trivial Fastify route in the same process as the
 * reference, so the ratio says what our route costs beyond the framework.
 */
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { seedCharacters, startBenchApp, type BenchRow } from './bench-kit.js';

function cannon(url: string, headers: Record<string, string>, seconds: number, rate?: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url, headers, connections: 10, duration: seconds, overallRate: rate }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

export async function runApiLatencyBench(opts: { quick: boolean }): Promise<BenchRow[]> {
  const seconds = opts.quick ? 2 : 8;
  const b = await startBenchApp({ LIKENESS_EMULATOR_TRAIN_SECONDS: '3600', LIKENESS_POLL_SECONDS: '5' });
  const trivial = Fastify();
  trivial.get('/ping', async () => ({ ok: true }));
  await trivial.listen({ host: '127.0.0.1', port: 0 });
  try {
    const { token, characterIds } = await seedCharacters(b, 1);
    const run = await b.call('POST', `/v1/characters/${characterIds[0]}/lora/train`, token, {});
    const address = trivial.server.address() as { port: number };
    const ref = await cannon(`http://127.0.0.1:${address.port}/ping`, {}, seconds);
    const ours = await cannon(`${b.url}/v1/training-runs/${run.id}`, { authorization: `Bearer ${token}` }, seconds);
    const at500 = await cannon(`${b.url}/v1/training-runs/${run.id}`, { authorization: `Bearer ${token}` }, seconds, 500);
    if (ours.non2xx > 0) throw new Error(`status reads failed: ${ours.non2xx} non-2xx answers`);
    return [
      {
        name: 'status read throughput (10 connections)',
        value: ours.requests.average,
        unit: 'req/s',
        reference: { name: 'trivial Fastify route', value: ref.requests.average },
      },
      { name: 'status read latency p50 (10 connections, saturated)', value: ours.latency.p50, unit: 'ms', reference: { name: 'trivial route p50', value: ref.latency.p50 } },
      { name: 'status read latency p99 at 500 req/s', value: at500.latency.p99, unit: 'ms', target: '< 20 ms', meets: at500.latency.p99 < 20 },
    ];
  } finally {
    await trivial.close();
    await b.close();
  }
}
