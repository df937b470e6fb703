/**
 * The timeline of one simulated training, as a pure function of its config and wall time: what AI
 * Toolkit's BaseSDTrainProcess.run() does, in its order (jobs/process/BaseSDTrainProcess.py):
 *
 *   "Starting" -> "Loading model" -> "Loading dataset" -> "Training" (step 0)
 *   baseline sample at step 0 (unless skip_first_sample / disable_sampling)
 *   for step in 0..steps-1: train; at step != 0: save if step % save_every == 0,
 *                           sample if step % sample_every == 0 and step >= sample_start_step;
 *                           then Job.step = step + 1
 *   final save (`<name>.safetensors`), final sample at `steps`, "Training completed".
 *
 * Wall time: 10% start-up, then the training loop; pauses for saves and sample images share 20% of
 * the loop when there are any, the steps advance linearly through the rest.
 */
import type { JobFate } from './faults.js';
import type { TrainPlan } from './aitoolkit-job-config.js';

export type TrainEvent =
  | { at: number; kind: 'info'; info: 'Starting' | 'Loading model' }
  | { at: number; kind: 'load-dataset' }
  | { at: number; kind: 'train-start' }
  | { at: number; kind: 'steps'; from: number; to: number; until: number }
  | { at: number; kind: 'sample-begin'; step: number; total: number }
  | { at: number; kind: 'sample-image'; step: number; index: number; total: number }
  | { at: number; kind: 'sample-end' }
  | { at: number; kind: 'save-begin' }
  | { at: number; kind: 'save'; step: number | null }
  | { at: number; kind: 'fault'; fate: Exclude<JobFate, { kind: 'complete' }> }
  | { at: number; kind: 'complete' };

export function buildTrainingTimeline(plan: TrainPlan, wallMs: number, fate: JobFate): TrainEvent[] {
  const steps = plan.steps;
  const sampling = !plan.disableSampling && plan.prompts.length > 0;
  const isSave = (s: number) => plan.saveEvery > 0 && s % plan.saveEvery === 0;
  const isSample = (s: number) => sampling && plan.sampleEvery > 0 && s >= plan.sampleStartStep && s % plan.sampleEvery === 0;

  // Steps at which something happens inside the loop (never on the first step).
  const stops: number[] = [];
  for (let s = 1; s < steps; s++) if (isSave(s) || isSample(s)) stops.push(s);
  const baseline = sampling && !plan.skipFirstSample;
  const finalSample = sampling;
  const nImages = plan.prompts.length;
  let pauses = 1; // the final save
  for (const s of stops) pauses += (isSave(s) ? 1 : 0) + (isSample(s) ? nImages : 0);
  if (baseline) pauses += nImages;
  if (finalSample) pauses += nImages;

  const startup = wallMs * 0.1;
  const loop = wallMs - startup;
  const pauseMs = (loop * 0.2) / pauses;
  const stepMs = steps > 0 ? (loop - pauseMs * pauses) / steps : 0;

  const faultStep = fate.kind === 'complete' ? null : Math.min(steps, Math.floor(fate.atFraction * steps));

  const events: TrainEvent[] = [
    { at: wallMs * 0.02, kind: 'info', info: 'Starting' },
    { at: wallMs * 0.03, kind: 'info', info: 'Loading model' },
    { at: wallMs * 0.07, kind: 'load-dataset' },
    { at: startup, kind: 'train-start' },
  ];
  let t = startup;
  const sample = (step: number) => {
    events.push({ at: t, kind: 'sample-begin', step, total: nImages });
    for (let i = 0; i < nImages; i++) {
      t += pauseMs;
      events.push({ at: t, kind: 'sample-image', step, index: i, total: nImages });
    }
    events.push({ at: t, kind: 'sample-end' });
  };
  const save = (step: number | null) => {
    events.push({ at: t, kind: 'save-begin' });
    t += pauseMs;
    events.push({ at: t, kind: 'save', step });
  };
  const advance = (from: number, to: number): boolean => {
    if (faultStep !== null && fate.kind !== 'complete' && faultStep >= from && faultStep <= to) {
      if (faultStep > from) {
        events.push({ at: t, kind: 'steps', from, to: faultStep, until: t + (faultStep - from) * stepMs });
        t += (faultStep - from) * stepMs;
      }
      events.push({ at: t, kind: 'fault', fate });
      return false;
    }
    if (to > from) {
      events.push({ at: t, kind: 'steps', from, to, until: t + (to - from) * stepMs });
      t += (to - from) * stepMs;
    }
    return true;
  };

  if (baseline) sample(0);
  let at = 0;
  for (const s of stops) {
    if (!advance(at, s)) return events;
    if (isSave(s)) save(s);
    if (isSample(s)) sample(s);
    at = s;
  }
  if (!advance(at, steps)) return events;
  save(null);
  if (finalSample) sample(steps);
  events.push({ at: Math.max(t, wallMs), kind: 'complete' });
  return events;
}

/** `speed_string` as DiffusionTrainer.handle_timing_print_hook formats it. */
export function speedString(itersPerSecond: number): string {
  if (itersPerSecond >= 1) return `${itersPerSecond.toFixed(2)} iter/sec`;
  return `${(1 / itersPerSecond).toFixed(2)} sec/iter`;
}
