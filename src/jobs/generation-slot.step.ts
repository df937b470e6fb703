/**
 * One image of a generation, from its first attempt to the delivered file: run the workflow for the
 * current method, score the output, ask the identity gate (domain/identity-gate.ts) what next, and
 * deliver. The chain, bounded at 1 + retries + 1 scored runs (plus at most two runs lost to
 * transient faults):
 *
 *   planned method (LoRA: strength +0.15 per retry) --below tau x (retries+1)--> face swap (once)
 *   --below tau--> best attempt delivered, flagged
 *   LoRA cannot be loaded (LoraUnavailableError) --> the plan's fallback (face swap, else plain),
 *   for this image and every later one: a generation never fails because the LoRA path failed.
 */
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { countAttempt, insertAttempt, recordFallback, type GenerationRow } from '../db/generations.repo.js';
import { images } from '../db/schema.js';
import { ProviderError } from '../domain/errors.js';
import type { GenerationMethod, GenerationPlan } from '../domain/generation-planner.js';
import { bestAttempt, decideGate, DEFAULT_MAX_STRENGTH, DEFAULT_STRENGTH_STEP, type GateState } from '../domain/identity-gate.js';
import { LoraUnavailableError, type GenerationInputImage, type GenerationRuntime, type LoraFileSource } from '../generation/generation-backend.js';
import { runWorkflow } from '../generation/generation-runner.js';
import type { ServiceContext } from '../services/context.js';
import { attemptWorkflow, type WorkflowRequest } from '../services/generation-workflow.js';
import type { CharacterIdentity, IdentityScorer, OutputScore } from '../services/identity-scorer.js';

/** What every image of one generation shares. */
export interface SlotContext {
  ctx: ServiceContext;
  runtime: GenerationRuntime;
  generation: GenerationRow;
  plan: GenerationPlan;
  request: WorkflowRequest;
  scorer: IdentityScorer;
  identity: CharacterIdentity | null;
  referenceImage: GenerationInputImage | null;
  loras: LoraFileSource[];
  /** Set once the LoRA failed to load: later attempts of every image skip it. */
  shared: { loraUnavailable: string | null };
}

interface Candidate {
  bytes: Buffer;
  mime: string;
  method: GenerationMethod;
  seed: number;
  emulated: boolean;
  score: OutputScore;
  similarity: number | null;
  match: boolean;
}

const MAX_TRANSIENT_FAILURES = 2;

/** Attempt k of image `slot` draws its own noise; the first image's first attempt uses the requested seed. */
export function attemptSeed(base: number, slot: number, k: number): number {
  return (base + slot + k * 1_000_003) % 2 ** 48;
}

export async function runSlot(sc: SlotContext, slot: number, firstAttemptNo: number): Promise<{ delivered: true } | { delivered: false; error: string }> {
  const { ctx, plan } = sc;
  const retries = ctx.config.generation.gateRetries;
  const policy = {
    retries,
    strengthStep: DEFAULT_STRENGTH_STEP,
    maxStrength: DEFAULT_MAX_STRENGTH,
    faceSwapAvailable: plan.faceSwap !== null && sc.referenceImage !== null && sc.request.sourceWorkflow === null,
  };
  let state: GateState = {
    method: plan.method,
    phase: 'planned',
    retriesUsed: 0,
    strength: plan.lora?.strength ?? null,
  };
  const candidates: Candidate[] = [];
  let transientFailures = 0;
  let attemptNo = firstAttemptNo;
  const budget = firstAttemptNo + retries + 2 + MAX_TRANSIENT_FAILURES + 1;

  while (attemptNo < budget) {
    if (state.method === 'lora' && sc.shared.loraUnavailable) state = await leaveLora(sc, slot, state, sc.shared.loraUnavailable);
    const seed = attemptSeed(sc.generation.seed, slot, attemptNo - 1);
    const built = attemptWorkflow(sc.request, plan, { method: state.method, seed, strength: state.method === 'lora' ? state.strength : null });
    if (!built.ok) return { delivered: false, error: `the ${state.method} workflow cannot be built: ${built.message}` };
    const attempt = { id: randomUUID(), generationId: sc.generation.id, slot, attempt: attemptNo, method: state.method, seed, loraStrength: state.method === 'lora' ? state.strength : null, workflow: built.workflow as Record<string, unknown> };
    attemptNo++;

    let run;
    try {
      run = await runWorkflow(
        sc.runtime.backend,
        {
          workflow: built.workflow,
          images: state.method === 'faceswap' && sc.referenceImage ? [sc.referenceImage] : [],
          loras: state.method === 'lora' ? sc.loras : [],
        },
        { pollMs: ctx.config.generation.pollSeconds * 1000, timeoutMs: ctx.config.generation.timeoutSeconds * 1000 },
      );
    } catch (err) {
      if (!(err instanceof ProviderError)) throw err;
      const lora = err instanceof LoraUnavailableError;
      await insertAttempt(ctx.db, { ...attempt, outcome: lora ? 'lora_unavailable' : 'failed', error: err.message.slice(0, 2000) });
      await countAttempt(ctx.db, sc.generation.id, 0, ctx.config.generation.usdPerGpuSecond, false);
      // A LoRA run refused for any other reason is the LoRA path failing too: fall back, never fail.
      if (state.method === 'lora' && (lora || err.kind === 'fatal')) {
        sc.shared.loraUnavailable = err.message;
        state = await leaveLora(sc, slot, state, err.message);
        continue;
      }
      ctx.log(`[generation ${sc.generation.id}] image ${slot + 1} attempt ${attempt.attempt} (${state.method}) failed: ${err.message}`);
      if (err.kind === 'transient' && ++transientFailures <= MAX_TRANSIENT_FAILURES) continue;
      const best = bestAttempt(candidates);
      if (best) return deliver(sc, slot, best, attemptNo - firstAttemptNo, true);
      return { delivered: false, error: err.message };
    }

    const image = run.images[0];
    const gpuSeconds = run.executionSeconds ?? 0;
    const emulated = sc.runtime.emulated || (image?.emulated ?? false);
    await countAttempt(ctx.db, sc.generation.id, gpuSeconds, ctx.config.generation.usdPerGpuSecond, emulated);
    if (!image) {
      await insertAttempt(ctx.db, { ...attempt, outcome: 'failed', providerJobId: run.handle.id, gpuSeconds, emulated, error: 'the workflow produced no image' });
      if (++transientFailures <= MAX_TRANSIENT_FAILURES) continue;
      return { delivered: false, error: 'the workflow produced no image' };
    }
    const score = await sc.scorer.score(sc.identity, image.bytes);
    await insertAttempt(ctx.db, {
      ...attempt,
      outcome: score.scored ? 'scored' : 'unscored',
      providerJobId: run.handle.id,
      gpuSeconds,
      similarity: score.similarity,
      match: score.scored ? score.match : null,
      faceCount: score.faceCount,
      copyPaste: score.scored ? score.copyPaste : null,
      recognizerId: score.recognizerId,
      emulated,
    });
    const candidate: Candidate = { bytes: image.bytes, mime: image.mime, method: state.method, seed, emulated, score, similarity: score.similarity, match: score.match };
    candidates.push(candidate);

    const decision = decideGate({ scored: score.scored, match: score.match }, state, policy);
    switch (decision.action) {
      case 'accept':
        return deliver(sc, slot, candidate, attemptNo - firstAttemptNo, false);
      case 'retry':
        state = { ...state, retriesUsed: state.retriesUsed + 1, strength: decision.strength };
        break;
      case 'switch_to_faceswap':
        await recordFallback(ctx.db, sc.generation.id, { slot, from: state.method, to: 'faceswap', reason: decision.reason });
        state = { method: 'faceswap', phase: 'faceswap_fallback', retriesUsed: 0, strength: null };
        break;
      case 'flag':
        return deliver(sc, slot, bestAttempt(candidates)!, attemptNo - firstAttemptNo, true);
    }
  }
  const best = bestAttempt(candidates);
  if (best) return deliver(sc, slot, best, attemptNo - firstAttemptNo, true);
  return { delivered: false, error: 'no attempt produced an image within the attempt budget' };
}

/** The LoRA path failed: continue with the plan's fallback as the planned method (with its retries). */
async function leaveLora(sc: SlotContext, slot: number, state: GateState, reason: string): Promise<GateState> {
  const to = sc.plan.fallback?.method ?? 'plain';
  await recordFallback(sc.ctx.db, sc.generation.id, { slot, from: 'lora', to, reason: `LoRA unavailable: ${reason}` });
  return { ...state, method: to, phase: 'planned', retriesUsed: 0, strength: null };
}

const EXT: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' };

/** Stores the chosen output as a generated image of the character (idempotent per slot). */
async function deliver(sc: SlotContext, slot: number, chosen: Candidate, attempts: number, flagged: boolean): Promise<{ delivered: true }> {
  const { ctx, generation } = sc;
  const meta = await sharp(chosen.bytes).metadata();
  const mime = meta.format === 'jpeg' ? 'image/jpeg' : meta.format === 'webp' ? 'image/webp' : chosen.mime in EXT ? chosen.mime : 'image/png';
  const key = `generations/${generation.id}/${slot + 1}.${EXT[mime] ?? 'png'}`;
  const stored = await ctx.store.put(key, chosen.bytes, mime);
  const s = chosen.score;
  const reasons: { code: string; message: string }[] = [];
  if (!s.scored) reasons.push({ code: 'unscored', message: 'The identity check could not run for this image.' });
  else if (s.faceCount === 0) reasons.push({ code: 'no_face', message: 'No face was found in the image.' });
  else if ((s.faceCount ?? 0) > 1) reasons.push({ code: 'multiple_faces', message: 'The image has more than one face.' });
  else if (!s.match) reasons.push({ code: 'identity_mismatch', message: 'The face does not match the character closely enough.' });
  if (s.copyPaste) reasons.push({ code: 'copy_paste', message: 'The image reproduces one of the character\'s reference photos.' });
  await ctx.db
    .insert(images)
    .values({
      id: randomUUID(),
      ownerId: generation.ownerId,
      characterId: generation.characterId,
      source: 'generated',
      storageKey: key,
      originalName: `generation ${generation.id} image ${slot + 1}`,
      mime,
      width: meta.width ?? generation.width,
      height: meta.height ?? generation.height,
      bytes: stored.size,
      sha256: stored.sha256,
      // Only a matching, original-looking face may become training data (once liked).
      checkStatus: reasons.length === 0 ? 'accepted' : 'rejected',
      checkReasons: reasons,
      faceBox: s.faceBox,
      generationId: generation.id,
      generationSlot: slot,
      method: chosen.method,
      attempts,
      seed: chosen.seed,
      identitySimilarity: s.similarity,
      identityMatch: s.scored ? s.match : null,
      faceCount: s.faceCount,
      copyPaste: s.scored ? s.copyPaste : null,
      identityFlagged: s.scored ? flagged || !s.match : null,
      recognizerId: s.recognizerId,
      emulated: chosen.emulated,
    })
    .onConflictDoNothing();
  return { delivered: true };
}
