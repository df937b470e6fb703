/**
 * Orchestration overhead: what the product adds around a training (prepare, submit, polls,
 * finalize: dataset copies, LoRA download and verification, ledger, notifications) with the
 * emulator training in zero seconds. Measured from the train request to `ready`, one run at a
 * time (latency), then many at once through one worker (throughput).
 *
 * The emulated AI Toolkit UI starts jobs on its own 1 s queue tick, as the real one does: that
 * floor is provider behaviour, not ours, and is part of every figure here.
 */
import { percentile, seedCharacters, sleep, startBenchApp, type BenchRow } from './bench-kit.js';

async function waitReady(call: (m: string, p: string) => Promise<any>, runId: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call('GET', `/v1/training-runs/${runId}`);
    if (r.status === 'ready') return;
    if (r.status === 'failed' || r.status === 'cancelled') throw new Error(`bench run ${r.status}: ${r.error?.message}`);
    if (Date.now() > deadline) throw new Error('bench run did not finish');
    await sleep(20);
  }
}

export async function runOrchestrationBench(opts: { quick: boolean }): Promise<BenchRow[]> {
  const b = await startBenchApp({
    LIKENESS_EMULATOR_TRAIN_SECONDS: '0',
    LIKENESS_EMULATOR_BOOT_SECONDS: '0',
    LIKENESS_POLL_SECONDS: '0.1',
    LIKENESS_TRAIN_STEPS: '10',
  });
  try {
    const sequential = opts.quick ? 3 : 12;
    const concurrent = opts.quick ? 5 : 20;
    const { token, characterIds } = await seedCharacters(b, sequential + concurrent);
    const call = (m: string, p: string, body?: unknown) => b.call(m, p, token, body);

    const latencies: number[] = [];
    for (const id of characterIds.slice(0, sequential)) {
      const t0 = performance.now();
      const run = await call('POST', `/v1/characters/${id}/lora/train`, {});
      await waitReady(call, run.id);
      latencies.push((performance.now() - t0) / 1000);
    }

    const t0 = performance.now();
    const runs = await Promise.all(characterIds.slice(sequential).map((id) => call('POST', `/v1/characters/${id}/lora/train`, {})));
    await Promise.all(runs.map((r: { id: string }) => waitReady(call, r.id, 180_000)));
    const minutes = (performance.now() - t0) / 60_000;

    const p50 = percentile(latencies, 50);
    return [
      { name: 'orchestration overhead per run, p50', value: p50, unit: 's', target: '< 2 s', meets: p50 < 2 },
      { name: 'orchestration overhead per run, p95', value: percentile(latencies, 95), unit: 's' },
      { name: `runs per minute through one worker (${concurrent} at once)`, value: concurrent / minutes, unit: 'runs/min' },
    ];
  } finally {
    await b.close();
  }
}
