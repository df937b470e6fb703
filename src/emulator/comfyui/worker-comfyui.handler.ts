/**
 * The RunPod serverless handler of runpod-workers/worker-comfyui v5.8.5 (`handler.py`), run against
 * the emulated ComfyUI: validate the input, upload `images` into input/, queue the workflow with a
 * client id, wait for completion, and return `{images:[{filename, type:"base64", data}]}` or
 * `{error, details?}` with the handler's own messages (contracts §5.1-5.2).
 *
 * One addition, which is Likeness's worker image extension (docs/generation.md): `input.loras`,
 * `[{name, url, sha256?}]`, downloaded into models/loras before the workflow is queued, skipped
 * when a file of that name (and checksum) is already there. A stock worker ignores the field.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ComfyEngine } from './comfy-engine.js';
import { pyRepr } from './python-repr.js';
import type { HandlerReturn } from '../serverless/runpod-serverless.routes.js';


export interface WorkerDeps {
  engine: ComfyEngine;
  /** Called with the prompt id once queued, so a cancel can interrupt it. */
  onQueued?: (promptId: string) => void;
}

export async function runWorkerComfyui(jobInput: unknown, deps: WorkerDeps): Promise<HandlerReturn> {
  const validated = validateInput(jobInput);
  if ('error' in validated) return { error: validated.error };
  const { engine } = deps;

  if (validated.loras) {
    const errors = await downloadLoras(engine, validated.loras);
    if (errors.length) return { error: 'Failed to download one or more LoRAs', details: errors };
  }

  if (validated.images?.length) {
    const errors: string[] = [];
    for (const image of validated.images) {
      const decoded = decodeBase64(String(image.image));
      if ('error' in decoded) {
        errors.push(`Error decoding base64 for ${String(image.name)}: ${decoded.error}`);
        continue;
      }
      const saved = await engine.files.saveUpload('input', '', String(image.name), decoded.bytes, true);
      if ('status' in saved) errors.push(`Error uploading ${String(image.name)}: ${saved.status} Client Error`);
    }
    if (errors.length) return { error: 'Failed to upload one or more input images', details: errors };
  }

  const clientId = randomUUID();
  const queued = engine.submit({ prompt: validated.workflow, client_id: clientId });
  if (queued.status === 400) return { error: validationMessage(queued.body) };
  const promptId = queued.body.prompt_id;
  deps.onQueued?.(promptId);

  const item = await engine.waitFor(promptId);
  const errors: string[] = [];
  for (const [type, data] of item.status.messages) {
    if (type === 'execution_error') {
      errors.push(`Workflow execution error: Node Type: ${String(data.node_type)}, Node ID: ${String(data.node_id)}, Message: ${String(data.exception_message)}`);
    }
  }
  const images: Array<{ filename: string; type: 'base64'; data: string }> = [];
  if (Object.keys(item.outputs).length === 0 && errors.length === 0) errors.push(`No outputs found in history for prompt ${promptId}.`);
  for (const output of Object.values(item.outputs)) {
    for (const image of output.images) {
      if (image.type === 'temp') continue;
      const target = engine.files.resolve(image.type, image.subfolder, image.filename);
      if (!target.ok || !engine.files.isFile(target.file)) {
        errors.push(`Failed to fetch image data for ${image.filename} from /view endpoint.`);
        continue;
      }
      images.push({ filename: image.filename, type: 'base64', data: (await readFile(target.file)).toString('base64') });
    }
  }
  if (images.length === 0 && errors.length) return { error: 'Job processing failed', details: errors };
  if (images.length === 0) return { status: 'success_no_images', images: [] };
  return errors.length ? { images, errors } : { images };
}

interface ValidInput {
  workflow: unknown;
  images: Array<Record<string, unknown>> | null;
  loras: Array<{ name: string; url: string; sha256?: string }> | null;
}

/** `validate_input` of handler.py, plus the `loras` extension. */
function validateInput(raw: unknown): ValidInput | { error: string } {
  if (raw === null || raw === undefined) return { error: 'Please provide input' };
  let input = raw;
  if (typeof input === 'string') {
    try {
      input = JSON.parse(input);
    } catch {
      return { error: 'Invalid JSON format in input' };
    }
  }
  const obj = (input ?? {}) as Record<string, unknown>;
  if (obj.workflow === undefined || obj.workflow === null) return { error: "Missing 'workflow' parameter" };
  const images = obj.images;
  if (images !== undefined && images !== null) {
    if (!Array.isArray(images) || !images.every((i) => i && typeof i === 'object' && 'name' in i && 'image' in i)) {
      return { error: "'images' must be a list of objects with 'name' and 'image' keys" };
    }
  }
  const loras = obj.loras;
  if (loras !== undefined && loras !== null) {
    if (!Array.isArray(loras) || !loras.every((l) => l && typeof l === 'object' && typeof l.name === 'string' && typeof l.url === 'string')) {
      return { error: "'loras' must be a list of objects with 'name' and 'url' keys" };
    }
  }
  return {
    workflow: obj.workflow,
    images: (images as ValidInput['images']) ?? null,
    loras: (loras as ValidInput['loras']) ?? null,
  };
}

/** Python's b64decode after the handler strips a data-URI prefix: padding errors are errors. */
function decodeBase64(dataUri: string): { bytes: Buffer } | { error: string } {
  const data = dataUri.includes(',') ? dataUri.split(',', 2)[1]! : dataUri;
  const cleaned = data.replace(/[^A-Za-z0-9+/=]/g, '');
  if (cleaned.replace(/=+$/, '').length % 4 === 1 || cleaned.length % 4 !== 0) return { error: 'Incorrect padding' };
  return { bytes: Buffer.from(cleaned, 'base64') };
}

/** Downloads each LoRA into models/loras unless it is already there (the cache is the folder). */
async function downloadLoras(engine: ComfyEngine, loras: Array<{ name: string; url: string; sha256?: string }>): Promise<string[]> {
  const errors: string[] = [];
  for (const lora of loras) {
    const target = path.resolve(engine.files.lorasDir, lora.name);
    if (!target.startsWith(engine.files.lorasDir + path.sep) || lora.name.includes('..')) {
      errors.push(`Error downloading ${lora.name}: not a file name inside models/loras`);
      continue;
    }
    if (existsSync(target) && (!lora.sha256 || sha256(await readFile(target)) === lora.sha256)) continue;
    if (engine.settings.failNextLoraDownloads > 0) {
      engine.settings.failNextLoraDownloads -= 1;
      errors.push(`Error downloading ${lora.name}: 403 Client Error: Forbidden for url: ${lora.url.split('?')[0]}`);
      continue;
    }
    try {
      const res = await fetch(lora.url);
      if (!res.ok) {
        errors.push(`Error downloading ${lora.name}: ${res.status} Client Error for url: ${lora.url.split('?')[0]}`);
        continue;
      }
      const bytes = Buffer.from(await res.arrayBuffer());
      if (lora.sha256 && sha256(bytes) !== lora.sha256) {
        errors.push(`Error downloading ${lora.name}: sha256 mismatch`);
        continue;
      }
      await mkdir(path.dirname(target), { recursive: true });
      const tmp = `${target}.${randomUUID()}.part`;
      await writeFile(tmp, bytes);
      await rename(tmp, target).catch(async (e) => {
        await rm(tmp, { force: true });
        throw e;
      });
    } catch (err) {
      errors.push(`Error downloading ${lora.name}: ${(err as Error).message}`);
    }
  }
  return errors;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** `queue_workflow`'s ValueError text for a 400 from /prompt. */
function validationMessage(body: { error: { type: string; message: string }; node_errors: Record<string, object> }): string {
  let message = body.error.message || 'Workflow validation failed';
  if (body.error.type === 'prompt_outputs_failed_validation') message = 'Workflow validation failed';
  const details: string[] = [];
  for (const [nodeId, nodeError] of Object.entries(body.node_errors)) {
    for (const [key, value] of Object.entries(nodeError)) details.push(`Node ${nodeId} (${key}): ${typeof value === 'string' ? value : pyRepr(value)}`);
  }
  if (details.length) return `${message}:\n${details.map((d) => `• ${d}`).join('\n')}`;
  return `${message}. Raw response: ${JSON.stringify(body).replace(/","/g, '", "').replace(/":/g, '": ')}`;
}
