/**
 * Changes, each followed by refreshing what it affects. Errors surface as a toast unless the
 * screen shows them in place.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { notifications as toasts } from '@mantine/notifications';
import { api } from './client';
import { invalidateCharacter, keys } from './queries';
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
