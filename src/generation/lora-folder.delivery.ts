/**
 * How a LoRA reaches a ComfyUI server: ComfyUI has no upload route for models, so Likeness copies
 * `<loraId>.safetensors` into a folder ComfyUI reads LoRAs from (its models/loras, or a folder
 * named in extra_model_paths.yaml; on RunPod a network volume) and shares with this process
 * (LIKENESS_COMFYUI_LORA_DIR). The folder is the cache: a file already there with the right size
 * and checksum is not copied again. Copies go to a temporary name and are renamed into place, so
 * ComfyUI never lists a half-written file.
 *
 * Then ComfyUI itself is asked (`GET /models/loras`): a file it does not list would fail the
 * workflow's validation, so the caller falls back to face swap before submitting anything. With no
 * folder configured only that check runs (files placed by the operator, e.g. a synced volume).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LoraUnavailableError, type LoraFileSource } from './generation-backend.js';

export class LoraFolderDelivery {
  /** name -> sha256 of files this process copied or verified, so big files are hashed once. */
  private readonly verified = new Map<string, string>();

  constructor(
    readonly dir: string | null,
    private readonly provider = 'comfyui',
  ) {}

  async ensure(loras: readonly LoraFileSource[], listedByComfy: () => Promise<string[]>): Promise<void> {
    if (this.dir) for (const lora of loras) await this.place(this.dir, lora);
    const listed = new Set(await listedByComfy());
    const missing = loras.filter((l) => !listed.has(l.name)).map((l) => l.name);
    if (missing.length === 0) return;
    const where = this.dir
      ? `it was copied to ${this.dir}; is that a folder ComfyUI reads LoRAs from?`
      : 'set LIKENESS_COMFYUI_LORA_DIR to a loras folder ComfyUI reads, or place the file there';
    throw new LoraUnavailableError(`ComfyUI does not list ${missing.join(', ')} among its LoRAs (${where})`, this.provider);
  }

  private async place(dir: string, lora: LoraFileSource): Promise<void> {
    if (lora.name.includes('..') || path.isAbsolute(lora.name) || lora.name.includes('\\')) {
      throw new LoraUnavailableError(`${lora.name} is not a LoRA file name`, this.provider);
    }
    const target = path.join(dir, ...lora.name.split('/'));
    if (await this.alreadyThere(target, lora)) return;
    const tmp = `${target}.${randomUUID()}.part`;
    try {
      await mkdir(path.dirname(target), { recursive: true });
      const hash = createHash('sha256');
      const meter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          cb(null, chunk);
        },
      });
      await pipeline(await lora.open(), meter, createWriteStream(tmp));
      const sha = hash.digest('hex');
      if (sha !== lora.sha256) throw new Error(`checksum ${sha.slice(0, 12)}… does not match the stored ${lora.sha256.slice(0, 12)}…`);
      await rename(tmp, target);
      this.verified.set(target, sha);
    } catch (err) {
      await rm(tmp, { force: true });
      throw new LoraUnavailableError(`copying ${lora.name} into ${dir} failed: ${(err as Error).message}`, this.provider);
    }
  }

  private async alreadyThere(target: string, lora: LoraFileSource): Promise<boolean> {
    try {
      const s = await stat(target);
      if (!s.isFile() || s.size !== lora.size) return false;
    } catch {
      return false;
    }
    let sha = this.verified.get(target);
    if (!sha) {
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(target)) hash.update(chunk as Buffer);
      sha = hash.digest('hex');
      this.verified.set(target, sha);
    }
    return sha === lora.sha256;
  }
}
