/** The generation planner and the identity gate: pure decisions, every branch. */
import { describe, expect, it } from 'vitest';
import type { BaseModel } from '../../src/domain/base-models.js';
import { bestReference, planGeneration, type PlanInput, type PlannerDeps } from '../../src/domain/generation-planner.js';
import { bestAttempt, decideGate, type GatePolicy, type GateState } from '../../src/domain/identity-gate.js';
import { FACE_SWAP_SUPPORT, loraFileNames } from '../../src/generation/workflow/index.js';

const deps: PlannerDeps = { faceSwapSupport: FACE_SWAP_SUPPORT, loraFileNames };
const refs = [
  { imageId: 'small', liked: false, faceArea: 900, createdAt: new Date('2026-01-01') },
  { imageId: 'big', liked: false, faceArea: 4000, createdAt: new Date('2026-01-02') },
  { imageId: 'liked', liked: true, faceArea: 1000, createdAt: new Date('2026-01-03') },
];
const lora = (baseModel: BaseModel, id = `lora-${baseModel}`) => ({ id, baseModel, version: 2, triggerWord: 'zxqamy' });

function input(over: Partial<PlanInput> = {}): PlanInput {
  return {
    baseModel: 'flux-dev',
    character: { loraEnabled: true, loraStrength: 0.85, triggerWord: 'zxqamy' },
    activeLoras: {},
    trainingInProgress: false,
    references: refs,
    ...over,
  };
}

describe('generation planner', () => {
  it('uses the active, enabled LoRA of the requested base model with its files, strength and trigger word', () => {
    const plan = planGeneration(input({ activeLoras: { 'flux-dev': lora('flux-dev') } }), deps);
    expect(plan).toMatchObject({
      method: 'lora',
      code: 'lora_ready',
      lora: { loraModelId: 'lora-flux-dev', version: 2, fileNames: { main: 'lora-flux-dev.safetensors' }, strength: 0.85, triggerWord: 'zxqamy' },
      faceSwap: { method: 'pulid-flux', referenceImageId: 'liked' },
      fallback: { method: 'faceswap' },
    });
    expect(plan.reason).toContain('v2');
    expect(plan.reason).toContain('0.85');
  });

  it('names both Wan 2.2 expert files', () => {
    const plan = planGeneration(input({ baseModel: 'wan22', activeLoras: { wan22: lora('wan22', 'w') } }), deps);
    expect(plan.lora?.fileNames).toEqual({ high_noise: 'w_high_noise.safetensors', low_noise: 'w_low_noise.safetensors' });
    expect(plan.fallback).toMatchObject({ method: 'plain' });
  });

  it('falls back to face swap with the best reference when the base model has no LoRA, saying which models have one', () => {
    const plan = planGeneration(input({ activeLoras: { 'zimage-turbo': lora('zimage-turbo') } }), deps);
    expect(plan).toMatchObject({ method: 'faceswap', code: 'no_lora_for_base_model', lora: null, fallback: null, faceSwap: { referenceImageId: 'liked' } });
    expect(plan.reason).toContain('Z-Image Turbo but none for FLUX.1-dev');
  });

  it('falls back when LoRA use is off, and says a training is in progress', () => {
    expect(planGeneration(input({ activeLoras: { 'flux-dev': lora('flux-dev') }, character: { loraEnabled: false, loraStrength: 1, triggerWord: 't' } }), deps)).toMatchObject({
      method: 'faceswap',
      code: 'lora_disabled',
    });
    expect(planGeneration(input({ trainingInProgress: true }), deps)).toMatchObject({ method: 'faceswap', code: 'lora_training' });
    expect(planGeneration(input(), deps)).toMatchObject({ method: 'faceswap', code: 'no_lora' });
  });

  it('plans plain with the reason where no face-swap node exists or no reference face', () => {
    const zimage = planGeneration(input({ baseModel: 'zimage-turbo' }), deps);
    expect(zimage).toMatchObject({ method: 'plain', code: 'no_lora', faceSwap: null });
    expect(zimage.reason).toContain('no face-swap node exists for Z-Image Turbo');
    const noRefs = planGeneration(input({ references: [] }), deps);
    expect(noRefs).toMatchObject({ method: 'plain', faceSwap: null });
    expect(noRefs.reason).toContain('no accepted reference face');
  });

  it('picks the reference: liked first, then the largest face, then the earliest', () => {
    expect(bestReference(refs)?.imageId).toBe('liked');
    expect(bestReference(refs.filter((r) => !r.liked))?.imageId).toBe('big');
    const tie = [
      { imageId: 'b', liked: false, faceArea: 10, createdAt: new Date('2026-01-02') },
      { imageId: 'a', liked: false, faceArea: 10, createdAt: new Date('2026-01-01') },
    ];
    expect(bestReference(tie)?.imageId).toBe('a');
    expect(bestReference([])).toBeNull();
  });
});

describe('identity gate', () => {
  const policy: GatePolicy = { retries: 2, strengthStep: 0.15, maxStrength: 1.5, faceSwapAvailable: true };
  const state = (over: Partial<GateState> = {}): GateState => ({ method: 'lora', phase: 'planned', retriesUsed: 0, strength: 1, ...over });
  const below = { scored: true, match: false };

  it('accepts a match, and an output it cannot score', () => {
    expect(decideGate({ scored: true, match: true }, state(), policy)).toEqual({ action: 'accept' });
    expect(decideGate({ scored: false, match: false }, state(), policy)).toEqual({ action: 'accept' });
  });

  it('retries below tau with a stronger LoRA, capped', () => {
    expect(decideGate(below, state(), policy)).toMatchObject({ action: 'retry', strength: 1.15 });
    expect(decideGate(below, state({ retriesUsed: 1, strength: 1.15 }), policy)).toMatchObject({ action: 'retry', strength: 1.3 });
    expect(decideGate(below, state({ retriesUsed: 1, strength: 1.45 }), policy)).toMatchObject({ action: 'retry', strength: 1.5 });
    expect(decideGate(below, state({ method: 'plain', strength: null }), policy)).toMatchObject({ action: 'retry', strength: null });
  });

  it('switches to face swap once retries are used, then flags', () => {
    expect(decideGate(below, state({ retriesUsed: 2 }), policy)).toMatchObject({ action: 'switch_to_faceswap' });
    expect(decideGate(below, state({ method: 'faceswap', phase: 'faceswap_fallback', strength: null }), policy)).toMatchObject({ action: 'flag' });
    expect(decideGate(below, state({ retriesUsed: 2 }), { ...policy, faceSwapAvailable: false })).toMatchObject({ action: 'flag' });
    // A planned face swap gets its retries, then is flagged (there is nothing further).
    expect(decideGate(below, state({ method: 'faceswap', strength: null }), policy)).toMatchObject({ action: 'retry' });
    expect(decideGate(below, state({ method: 'faceswap', retriesUsed: 2, strength: null }), policy)).toMatchObject({ action: 'flag' });
  });

  it('never runs more than 1 + retries + 1 scored attempts', () => {
    for (const retries of [0, 1, 2, 5]) {
      let s = state();
      let runs = 1;
      for (;;) {
        const d = decideGate(below, s, { ...policy, retries });
        if (d.action === 'retry') s = { ...s, retriesUsed: s.retriesUsed + 1, strength: d.strength };
        else if (d.action === 'switch_to_faceswap') s = { method: 'faceswap', phase: 'faceswap_fallback', retriesUsed: 0, strength: null };
        else break;
        runs++;
      }
      expect(runs).toBe(retries + 2);
    }
  });

  it('delivers the best attempt when none matched', () => {
    expect(bestAttempt([{ similarity: null, match: false }, { similarity: 0.8, match: false }, { similarity: 0.7, match: false }])).toEqual({ similarity: 0.8, match: false });
    expect(bestAttempt([{ similarity: 0.95, match: false }, { similarity: 0.92, match: true }])).toEqual({ similarity: 0.92, match: true });
    expect(bestAttempt([])).toBeNull();
  });
});
