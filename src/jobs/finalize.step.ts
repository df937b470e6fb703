/**
 * Finalize: fetch the LoRA file(s) into storage, verify them, keep the final samples, free the
 * provider, then in one transaction record the LoRA version, make it the character's active LoRA
 * for the base model, capture the reserved credits, mark the run ready and notify the user.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { TrainingRunRow } from '../db/training-runs.repo.js';
import { transitionRun } from '../db/training-runs.repo.js';
import { activeLoras, characters, loraModels } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import { LORA_PARTS, type BaseModel, type LoraPart } from '../domain/base-models.js';
import { closeReservation } from '../credits/ledger.repo.js';
import { createNotification } from '../notifications/notifications.repo.js';
import type { ServiceContext } from '../services/context.js';
import type { TrainingArtifact, TrainingHandle, TrainingRecipe } from '../training/training-backend.js';
import { randomUUID } from 'node:crypto';
import { failRun, recordUsage, releaseProvider } from './step-context.js';
import { verifyStoredLora } from './lora-check.js';

const MAX_SAMPLES_KEPT = 8;

/** The checkpoint to keep for a part: the final save when there is one, else the latest step. */
export function chooseCheckpoint(artifacts: TrainingArtifact[], part: LoraPart): TrainingArtifact | null {
  const candidates = artifacts.filter((a) => a.kind === 'checkpoint' && (a.part ?? 'main') === part);
  const final = candidates.find((a) => a.step === null);
  if (final) return final;
  return candidates.sort((a, b) => (b.step ?? 0) - (a.step ?? 0))[0] ?? null;
}

export async function finalizeStep(ctx: ServiceContext, run: TrainingRunRow): Promise<void> {
  const handle = run.providerHandle as TrainingHandle;
  const status = await ctx.backend.status(handle);
  if (status.state !== 'completed') throw new Error(`run ${run.id} is finalizing but the provider says ${status.state}`);
  const artifacts = status.artifacts ?? [];
  const baseModel = run.baseModel as BaseModel;
  const recipe = run.recipe as unknown as TrainingRecipe;

  let madeByEmulator = run.emulated || status.emulated;
  const files: { part: LoraPart; storageKey: string; size: number; sha256: string; fileName: string; step: number | null }[] = [];
  for (const part of LORA_PARTS[baseModel]) {
    const artifact = chooseCheckpoint(artifacts, part);
    if (!artifact) {
      await failRun(ctx, run, { code: 'lora_missing', message: `The trainer produced no ${part === 'main' ? '' : `${part} `}LoRA file.`, fault: 'provider' });
      return;
    }
    const storageKey = `loras/${run.characterId}/${run.id}/${part}.safetensors`;
    const stored = await ctx.store.put(storageKey, await ctx.backend.download(handle, artifact), 'application/octet-stream');
    const { problems, emulated } = await verifyStoredLora(ctx.store, storageKey, { baseModel, part, rank: recipe.rank });
    if (emulated) madeByEmulator = true;
    if (problems.length) {
      await ctx.store.delete(storageKey);
      await failRun(ctx, run, { code: 'lora_invalid', message: `The trained LoRA file failed verification: ${problems.join('; ')}.`, fault: 'provider' });
      return;
    }
    files.push({ part, storageKey, size: stored.size, sha256: stored.sha256, fileName: artifact.name, step: artifact.step });
  }

  const samples = artifacts.filter((a) => a.kind === 'sample').slice(-MAX_SAMPLES_KEPT);
  const sampleKeys: string[] = [];
  for (const s of samples) {
    const ext = s.name.split('.').pop()?.toLowerCase().replace(/[^a-z0-9]/g, '') || 'jpg';
    const key = `runs/${run.id}/samples/${sampleKeys.length + 1}.${ext}`;
    await ctx.store.put(key, await ctx.backend.download(handle, s));
    sampleKeys.push(key);
  }

  await inTransaction(ctx.db, async (tx, afterCommit) => {
    const [character] = await tx.select().from(characters).where(eq(characters.id, run.characterId)).limit(1);
    const [{ next } = { next: 1 }] = await tx
      .select({ next: sql<number>`coalesce(max(${loraModels.version}), 0)::int + 1` })
      .from(loraModels)
      .where(and(eq(loraModels.characterId, run.characterId), eq(loraModels.baseModel, baseModel)));
    const loraId = randomUUID();
    const inserted = await tx
      .insert(loraModels)
      .values({
        id: loraId,
        ownerId: run.ownerId,
        characterId: run.characterId,
        runId: run.id,
        baseModel,
        version: next,
        triggerWord: character!.triggerWord,
        files: files.map(({ step: _s, ...f }) => f),
        rank: recipe.rank,
        checkpointStep: files[0]?.step ?? null,
        sizeBytes: files.reduce((a, f) => a + f.size, 0),
        emulated: madeByEmulator,
      })
      .onConflictDoNothing()
      .returning({ id: loraModels.id });
    if (!inserted[0]) return; // another worker finalized this run already
    const ready = await transitionRun(
      tx,
      run.id,
      'ready',
      {
        loraModelId: loraId,
        sampleKeys,
        finishedAt: new Date(),
        creditsCharged: run.priceTotal,
        etaSeconds: 0,
        emulated: madeByEmulator,
      },
      { expectVersion: run.version, from: ['finalizing'], detail: `LoRA v${next} stored` },
    );
    if (!ready) throw new Error(`run ${run.id} changed while finalizing`);
    await tx
      .insert(activeLoras)
      .values({ characterId: run.characterId, baseModel, loraModelId: loraId })
      .onConflictDoUpdate({ target: [activeLoras.characterId, activeLoras.baseModel], set: { loraModelId: loraId } });
    // Likes from now on count towards the next retrain suggestion.
    await tx.update(characters).set({ likesCountedSince: new Date(), retrainNotifiedAt: null }).where(eq(characters.id, run.characterId));
    if (run.reservationId) await closeReservation(tx, run.ownerId, 'capture', run.reservationId, run.id);
    await createNotification(tx, afterCommit, ctx, {
      userId: run.ownerId,
      type: 'lora.training.completed',
      dedupeKey: `run:${run.id}:completed`,
      context: { characterId: run.characterId, characterName: character!.name },
      data: { runId: run.id, characterId: run.characterId, loraModelId: loraId },
    });
  });
  // The machine is freed only once the LoRA and the charge are committed: a crash before this
  // line leaves a pod that the reaper frees, never a retried step that sees a terminated pod.
  await recordUsage(ctx, run.id, await releaseProvider(ctx, run));
}
