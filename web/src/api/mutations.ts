/**
 * Changes, each followed by refreshing what it affects. Errors surface as a toast unless the
 * screen shows them in place.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { notifications as toasts } from '@mantine/notifications';
import { api } from './client';
import { invalidateCharacter, keys } from './queries';
import type { BaseModel } from './types';
import { errorMessage } from '../components/query-state';

function toastError(title: string) {
  return (err: unknown) => toasts.show({ color: 'red', title, message: errorMessage(err) });
}

export function useUploadImages(characterId: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (files: File[]) => {
      const form = new FormData();
      for (const f of files) form.append('files', f, f.name);
      return api('post /v1/characters/{id}/images', { params: { id: characterId }, form });
    },
    onSettled: () => invalidateCharacter(qc, characterId),
  });
}

export function useToggleLike(characterId: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { imageId: string; liked: boolean }) => api('patch /v1/images/{id}', { params: { id: v.imageId }, body: { liked: v.liked } }),
    onError: toastError('Could not change the like'),
    onSettled: () => qc.invalidateQueries({ queryKey: keys.images(characterId) }),
  });
}

export function usePatchLora(characterId: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: { enabled?: boolean; strength?: number; activeVersionId?: string }) =>
      api('patch /v1/characters/{id}/lora', { params: { id: characterId }, body }),
    onSuccess: (summary) => qc.setQueryData(keys.lora(characterId), summary),
    onError: toastError('Could not change the LoRA settings'),
    onSettled: () => invalidateCharacter(qc, characterId),
  });
}

/** Started trainings announce themselves through the "LoRA Training Started" notification. */
export function useStartTraining(characterId: string) {
  const qc = useQueryClient();
  return useMutation({
    // One key per click: a request repeated by the network (or a double submit) starts one run.
    mutationFn: (v: { imageIds: string[]; idempotencyKey: string }) =>
      api('post /v1/characters/{id}/lora/train', { params: { id: characterId }, body: { imageIds: v.imageIds }, headers: { 'idempotency-key': v.idempotencyKey } }),
    onError: toastError('Could not start the training'),
    onSettled: () => invalidateCharacter(qc, characterId),
  });
}

export function useCancelRun(characterId: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (runId: string) => api('post /v1/training-runs/{id}/cancel', { params: { id: runId } }),
    onError: toastError('Could not cancel the training'),
    onSettled: () => invalidateCharacter(qc, characterId),
  });
}

export function useDeleteLora(characterId: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (loraId: string) => api('delete /v1/lora-models/{id}', { params: { id: loraId } }),
    onSuccess: () => toasts.show({ title: 'LoRA deleted', message: 'Its file and record are gone.' }),
    onError: toastError('Could not delete the LoRA'),
    onSettled: () => invalidateCharacter(qc, characterId),
  });
}

/** Queues a generation; the studio then follows it with useGeneration. */
export function useCreateGeneration() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { characterId: string; prompt: string; baseModel: BaseModel; count: number; seed?: number; idempotencyKey: string }) =>
      api('post /v1/generations', {
        body: { characterId: v.characterId, prompt: v.prompt, baseModel: v.baseModel, count: v.count, ...(v.seed !== undefined ? { seed: v.seed } : {}) },
        headers: { 'idempotency-key': v.idempotencyKey },
      }),
    onSuccess: (g) => qc.setQueryData(keys.generation(g.id), g),
  });
}

/**
 * Feedback on a generated image: a like (liked images suggest a retrain, see the LoRA settings
 * banner) and/or "does it look like the character?" (true, false, null to take it back), the
 * answer behind the satisfaction metric.
 */
export function useGeneratedFeedback(generationId: string, characterId: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { imageId: string; liked?: boolean; looksLikeCharacter?: boolean | null }) =>
      api('patch /v1/images/{id}', { params: { id: v.imageId }, body: { liked: v.liked, looksLikeCharacter: v.looksLikeCharacter } }),
    onError: toastError('Could not save the feedback'),
    onSettled: () =>
      Promise.all([qc.invalidateQueries({ queryKey: keys.generation(generationId) }), qc.invalidateQueries({ queryKey: keys.character(characterId) })]),
  });
}
