/**
 * The emulated ComfyUI host's folders, as a real install lays them out: `input/` (uploads and
 * LoadImage files), `output/` and `temp/` (SaveImage / PreviewImage results) and `models/loras/`
 * (what LoraLoader's `lora_name` lists). They are real folders so a shared-folder LoRA delivery
 * writes into `models/loras/` exactly as it would on a real host.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** `folder_paths.py` supported_pt_extensions. */
const MODEL_EXTENSIONS = ['.ckpt', '.pt', '.pt2', '.bin', '.pth', '.safetensors', '.pkl', '.sft'];

export type FolderType = 'input' | 'output' | 'temp';

export class ComfyHostFiles {
  readonly lorasDir: string;

  constructor(readonly root: string) {
    this.lorasDir = path.join(root, 'models', 'loras');
  }

  /** Starts empty: the emulator's state lives in memory, so files of an earlier run are stale. */
  async reset(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
    for (const dir of ['input', 'output', 'temp', path.join('models', 'loras')]) await mkdir(path.join(this.root, dir), { recursive: true });
  }

  folder(type: FolderType): string {
    return path.join(this.root, type);
  }

  /** `/models/loras`: names relative to the folder with `/`, sorted, model extensions only. */
  loras(): string[] {
    const out: string[] = [];
    const walk = (dir: string, prefix: string) => {
      if (!existsSync(dir)) return;
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.name.startsWith('.')) continue;
        if (entry.isDirectory()) walk(path.join(dir, entry.name), `${prefix}${entry.name}/`);
        else if (MODEL_EXTENSIONS.includes(path.extname(entry.name).toLowerCase())) out.push(`${prefix}${entry.name}`);
      }
    };
    walk(this.lorasDir, '');
    return out.sort();
  }

  /** LoadImage's list: files directly in input/, sorted. */
  inputImages(): string[] {
    const dir = this.folder('input');
    if (!existsSync(dir)) return [];
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
  }

  /**
   * Resolves `/view` and upload targets like ComfyUI: names starting with `/` or containing `..` are
   * refused (400), a subfolder must stay inside its folder (403).
   */
  resolve(type: FolderType, subfolder: string, filename: string): { ok: true; file: string } | { ok: false; status: 400 | 403 } {
    if (!filename || filename.startsWith('/') || filename.includes('..')) return { ok: false, status: 400 };
    const base = this.folder(type);
    const dir = path.resolve(base, subfolder || '.');
    if (dir !== base && !dir.startsWith(base + path.sep)) return { ok: false, status: 403 };
    return { ok: true, file: path.join(dir, filename) };
  }

  /**
   * POST /upload/image: without overwrite a name clash becomes `name (1).ext`, unless the existing
   * file has identical content (then it is reused).
   */
  async saveUpload(type: FolderType, subfolder: string, filename: string, bytes: Buffer, overwrite: boolean): Promise<{ name: string } | { status: 400 | 403 }> {
    let name = filename;
    let target = this.resolve(type, subfolder, name);
    if (!target.ok) return { status: target.status };
    if (!overwrite) {
      const ext = path.extname(filename);
      const stem = filename.slice(0, filename.length - ext.length);
      for (let i = 1; existsSync(target.file); i++) {
        if (sameContent(await readFile(target.file), bytes)) break;
        name = `${stem} (${i})${ext}`;
        target = this.resolve(type, subfolder, name);
        if (!target.ok) return { status: target.status };
      }
    }
    await mkdir(path.dirname(target.file), { recursive: true });
    await writeFile(target.file, bytes);
    return { name };
  }

  isFile(file: string): boolean {
    try {
      return statSync(file).isFile();
    } catch {
      return false;
    }
  }
}

function sameContent(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && createHash('sha256').update(a).digest('hex') === createHash('sha256').update(b).digest('hex');
}
