/**
 * Data hooks (TanStack Query). Query keys live here so invalidation after a mutation or a live
 * notification names the same keys the screens read.
 *
 * Polling never overlaps: TanStack Query runs at most one fetch per key at a time, and an interval
 * tick that finds a fetch in flight joins it instead of starting another; the intervals below
 * also stop as soon as no run is active.
 */
import { useQuery, type QueryClient } from '@tanstack/react-query';
import { api, resolveSignedUrl } from './client';
import { isRunActive } from '../status';
import type { BaseModel, Health } from './types';

export const LIVE_POLL_MS = 1500;

export const keys = {
  me: ['me'] as const,
  health: ['health'] as const,
  characters: ['characters'] as const,
  character: (id: string) => ['characters', id] as const,
  images: (id: string) => ['characters', id, 'images'] as const,
  lora: (id: string) => ['characters', id, 'lora'] as const,
  versions: (id: string) => ['characters', id, 'versions'] as const,
  runs: (id: string) => ['characters', id, 'runs'] as const,
  quote: (id: string, imageCount: number | null) => ['characters', id, 'quote', imageCount] as const,
  run: (id: string) => ['runs', id] as const,
  notifications: ['notifications'] as const,
  signed: (path: string) => ['signed', path] as const,
};

export function useMe(enabled = true) {
  return useQuery({ queryKey: keys.me, queryFn: () => api('get /v1/me'), enabled });
}

export function useHealth() {
  return useQuery({
    queryKey: keys.health,
    queryFn: async (): Promise<Health> => (await fetch('/health')).json() as Promise<Health>,
    staleTime: 5 * 60_000,
  });
}

export function useCharacters() {
  return useQuery({ queryKey: keys.characters, queryFn: () => api('get /v1/characters') });
}

export function useCharacter(id: string) {
  return useQuery({ queryKey: keys.character(id), queryFn: () => api('get /v1/characters/{id}', { params: { id } }) });
}

export function useImages(id: string) {
  return useQuery({ queryKey: keys.images(id), queryFn: () => api('get /v1/characters/{id}/images', { params: { id } }) });
}

/** The LoRA summary; polled while a run is active so the progress moves without a reload. */
export function useLora(id: string) {
  return useQuery({
    queryKey: keys.lora(id),
    queryFn: () => api('get /v1/characters/{id}/lora', { params: { id } }),
    refetchInterval: (q) => (q.state.data?.currentRun ? LIVE_POLL_MS : false),
  });
}

/** One run with its sample images; polled while it is active. */
export function useRun(runId: string | null) {
  return useQuery({
    queryKey: keys.run(runId ?? 'none'),
    queryFn: () => api('get /v1/training-runs/{id}', { params: { id: runId! } }),
    enabled: runId !== null,
    refetchInterval: (q) => (q.state.data && isRunActive(q.state.data.status) ? LIVE_POLL_MS : false),
  });
}

export function useVersions(id: string) {
  return useQuery({ queryKey: keys.versions(id), queryFn: () => api('get /v1/characters/{id}/lora/versions', { params: { id } }) });
}

export function useRuns(id: string) {
  return useQuery({ queryKey: keys.runs(id), queryFn: () => api('get /v1/characters/{id}/training-runs', { params: { id } }) });
}

/** The price of a training with `imageCount` images (null: the server's own selection). */
export function useQuote(id: string, imageCount: number | null, baseModel?: BaseModel) {
  return useQuery({
    queryKey: [...keys.quote(id, imageCount), baseModel ?? null],
    queryFn: () =>
      api('get /v1/characters/{id}/lora/quote', { params: { id }, query: { ...(imageCount !== null ? { imageCount } : {}), ...(baseModel ? { baseModel } : {}) } }),
    placeholderData: (prev) => prev,
  });
}

export function useNotifications(enabled: boolean, pollMs: number | false) {
  return useQuery({ queryKey: keys.notifications, queryFn: () => api('get /v1/notifications'), enabled, refetchInterval: pollMs });
}

/** The signed URL an authenticated redirect leads to (image files); they live 5 minutes. */
export function useSignedUrl(path: string) {
  return useQuery({ queryKey: keys.signed(path), queryFn: () => resolveSignedUrl(path), staleTime: 4 * 60_000, gcTime: 4 * 60_000 });
}

/**
 * Everything that shows a character's training state (its screens, the list's badges, runs, the
 * credit balance): refreshed after a change or a notification. Only mounted queries refetch.
 */
export async function invalidateCharacter(qc: QueryClient, id: string): Promise<void> {
  await Promise.all([
    qc.invalidateQueries({ queryKey: keys.character(id) }),
    qc.invalidateQueries({ queryKey: keys.characters, exact: true }),
    qc.invalidateQueries({ queryKey: ['runs'] }),
    qc.invalidateQueries({ queryKey: keys.me }),
  ]);
}
