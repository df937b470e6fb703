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
import { generationStatus, isRunActive } from '../status';
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
  generation: (id: string) => ['generations', id] as const,
  plan: (characterId: string, baseModel: BaseModel | null, prompt: string) => ['characters', characterId, 'plan', baseModel, prompt] as const,
  consistency: ['metrics', 'consistency'] as const,
  summary: ['metrics', 'summary'] as const,
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

/** One generation; polled while it is queued or running (never overlapping: TanStack waits for the last answer). */
export function useGeneration(id: string | null) {
  return useQuery({
    queryKey: keys.generation(id ?? 'none'),
    queryFn: () => api('get /v1/generations/{id}', { params: { id: id! } }),
    enabled: id !== null,
    refetchInterval: (q) => (q.state.data && generationStatus(q.state.data.status).active ? LIVE_POLL_MS : false),
  });
}

/**
 * The plan a generation would get now (method and why), without running it. The method depends on
 * the character's LoRA state and the base model, not on the prompt; the API still wants one, so the
 * preview waits for it (and a finished training, via invalidateCharacter, refreshes it).
 */
export function usePlan(characterId: string | null, baseModel: BaseModel | null, prompt: string) {
  return useQuery({
    queryKey: keys.plan(characterId ?? 'none', baseModel, prompt),
    queryFn: () => api('post /v1/generations/plan', { body: { characterId: characterId!, prompt, ...(baseModel ? { baseModel } : {}) } }),
    enabled: characterId !== null && prompt.trim().length > 0,
    placeholderData: (prev) => prev,
  });
}

/** Consistency across characters (admin); emulated output is left out by the API. */
export function useConsistencyMetrics(enabled: boolean) {
  return useQuery({ queryKey: keys.consistency, queryFn: () => api('get /v1/metrics/consistency'), staleTime: 30_000, enabled });
}

/** The platform's success metrics (admin), all time; emulated data is left out by the API. */
export function useSuccessMetrics(enabled: boolean) {
  return useQuery({ queryKey: keys.summary, queryFn: () => api('get /v1/metrics/summary'), staleTime: 30_000, enabled });
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
