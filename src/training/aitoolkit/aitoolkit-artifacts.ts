/**
 * What AI Toolkit's output names mean (contracts/README.md §3.6, lora-formats.md §2.4):
 * - checkpoints `<job>_<step:09d>.safetensors`, the final save `<job>.safetensors` (no step);
 * - Wan 2.2 14B splits each save into `<file>_high_noise.safetensors` and `<file>_low_noise...`;
 * - samples `samples/<time_ms>__<step:09d>_<promptIndex>.<ext>` (note the double underscore).
 * Files that match none of these (optimizer.pt, other jobs' files) are not artifacts.
 */
import type { LoraPart } from '../../domain/base-models.js';
import type { TrainingArtifact } from '../training-backend.js';
import type { AitkFile } from './aitoolkit-ui.client.js';

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function baseName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
}

export function parseCheckpointName(fileName: string, jobName: string): { step: number | null; part: LoraPart } | null {
  const re = new RegExp(`^${escapeRegExp(jobName)}(?:_(\\d{9}))?(?:_(high_noise|low_noise))?\\.safetensors$`);
  const m = re.exec(fileName);
  if (!m) return null;
  return { step: m[1] === undefined ? null : Number(m[1]), part: (m[2] as LoraPart | undefined) ?? 'main' };
}

export function parseSampleName(fileName: string): { step: number; promptIndex: number; timeMs: number } | null {
  const m = /^(\d+)__(\d{9})_(\d+)\.(png|jpe?g|webp|mp4|mp3|wav|flac|ogg)$/i.exec(fileName);
  if (!m) return null;
  return { timeMs: Number(m[1]), step: Number(m[2]), promptIndex: Number(m[3]) };
}

/**
 * Artifacts from the UI's /files and /samples listings; `ref` is the absolute path on the trainer,
 * which is what /api/files downloads by. Checkpoints first (by step, final last), then samples.
 */
export function artifactsFromListings(jobName: string, files: AitkFile[], samples: string[]): TrainingArtifact[] {
  const checkpoints: TrainingArtifact[] = [];
  for (const f of files) {
    const name = baseName(f.path);
    const parsed = parseCheckpointName(name, jobName);
    if (!parsed) continue;
    checkpoints.push({ kind: 'checkpoint', name, step: parsed.step, part: parsed.part, size: f.size, ref: f.path });
  }
  const order = (s: number | null) => (s === null ? Number.MAX_SAFE_INTEGER : s);
  checkpoints.sort((a, b) => order(a.step) - order(b.step) || (a.part ?? '').localeCompare(b.part ?? ''));

  const sampleArtifacts: TrainingArtifact[] = [];
  for (const path of samples) {
    const name = baseName(path);
    const parsed = parseSampleName(name);
    if (!parsed) continue;
    sampleArtifacts.push({ kind: 'sample', name, step: parsed.step, ref: path });
  }
  sampleArtifacts.sort((a, b) => order(a.step) - order(b.step) || a.name.localeCompare(b.name));
  return [...checkpoints, ...sampleArtifacts];
}
