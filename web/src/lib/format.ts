/** Formatting shared by the screens: credits, durations, sizes, base model names. */
import type { BaseModel } from '../api/types';

/** Human names, as the platform's pricing file spells them; exhaustive over the API's enum. */
export const BASE_MODEL_LABELS: Record<BaseModel, string> = {
  'zimage-turbo': 'Z-Image Turbo',
  'flux-dev': 'FLUX.1-dev',
  wan21: 'Wan 2.1',
  wan22: 'Wan 2.2',
  'qwen-image': 'Qwen-Image',
};

export const BASE_MODELS = Object.keys(BASE_MODEL_LABELS) as BaseModel[];

export function baseModelLabel(m: string): string {
  return (BASE_MODEL_LABELS as Record<string, string>)[m] ?? m;
}

const number = new Intl.NumberFormat('en-US');

export function credits(n: number): string {
  return `${number.format(n)} credits`;
}

export function num(n: number): string {
  return number.format(n);
}

/** 75 -> "1 min 15 s", 3700 -> "1 h 2 min". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

export function minutes(n: number): string {
  return n < 60 ? `about ${n} min` : `about ${duration(n * 60)}`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function relativeTime(iso: string): string {
  const diff = (Date.now() - new Date(iso).getTime()) / 1000;
  if (diff < 60) return 'just now';
  if (diff < 3600) return `${Math.floor(diff / 60)} min ago`;
  if (diff < 86400) return `${Math.floor(diff / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}
