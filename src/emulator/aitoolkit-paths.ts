/**
 * An emulated AI Toolkit install sees the filesystem of its Docker image: absolute POSIX paths under
 * `/app/ai-toolkit` (TOOLKIT_ROOT). Those virtual paths are what the API shows (settings, file
 * listings, job configs); this maps them onto one real folder per install:
 *
 *   /app/ai-toolkit/<rest>  <->  <installRoot>/<rest>          (output/, datasets/, ...)
 *   /<anything else>        <->  <installRoot>/_fs/<anything>   (e.g. /workspace if settings point there)
 *
 * Everything a client can name therefore lands inside the install's folder: an unsanitised
 * `datasetName` of "../../x" behaves as on the real pod without touching the host.
 */
import path from 'node:path';

export const TOOLKIT_ROOT = '/app/ai-toolkit';
export const DEFAULT_TRAINING_FOLDER = `${TOOLKIT_ROOT}/output`;
export const DEFAULT_DATASETS_FOLDER = `${TOOLKIT_ROOT}/datasets`;
export const DEFAULT_DATA_ROOT = `${TOOLKIT_ROOT}/data`;
export const DEFAULT_MODELS_FOLDER = `${TOOLKIT_ROOT}/models`;

const OUTSIDE = '_fs';

export class VirtualFs {
  constructor(readonly installRoot: string) {}

  /** `path.resolve` as the UI's Node process does it (its cwd is TOOLKIT_ROOT/ui). */
  resolve(...segments: string[]): string {
    return path.posix.resolve(`${TOOLKIT_ROOT}/ui`, ...segments);
  }

  /** A path as the trainer (`python run.py`, cwd TOOLKIT_ROOT) resolves it. */
  resolveForTrainer(p: string): string {
    return path.posix.resolve(TOOLKIT_ROOT, p);
  }

  /** Real host path for a virtual path (made absolute first). */
  toReal(virtualPath: string): string {
    const abs = this.resolve(virtualPath);
    if (abs === TOOLKIT_ROOT) return this.installRoot;
    if (abs.startsWith(`${TOOLKIT_ROOT}/`)) return path.join(this.installRoot, ...abs.slice(TOOLKIT_ROOT.length + 1).split('/'));
    return path.join(this.installRoot, OUTSIDE, ...abs.split('/').filter(Boolean));
  }

  /** Virtual path for a real path inside the install. */
  toVirtual(realPath: string): string {
    const rel = path.relative(this.installRoot, realPath).split(path.sep).join('/');
    if (rel === '') return TOOLKIT_ROOT;
    if (rel === OUTSIDE) return '/';
    if (rel.startsWith(`${OUTSIDE}/`)) return `/${rel.slice(OUTSIDE.length + 1)}`;
    return `${TOOLKIT_ROOT}/${rel}`;
  }
}
