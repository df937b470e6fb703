/**
 * The ComfyUI HTTP routes the adapters use (contracts §4.1-4.3), as a Fastify plugin. ComfyUI
 * mounts every route twice, at `/` and under `/api`; the emulator registers this plugin at both
 * prefixes. No auth (ComfyUI has none).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import multipart from '@fastify/multipart';
import type { FastifyPluginAsync } from 'fastify';
import type { ComfyEngine } from './comfy-engine.js';
import type { FolderType } from './comfy-host.files.js';
import { NODE_CLASSES } from './comfy-node.registry.js';

const FOLDERS = ['checkpoints', 'clip', 'clip_vision', 'configs', 'controlnet', 'diffusion_models', 'embeddings', 'loras', 'text_encoders', 'unet', 'upscale_models', 'vae'];
const MIME: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp' };

export const comfyHttpRoutes: FastifyPluginAsync<{ engine: ComfyEngine }> = async (app, { engine }) => {
  await app.register(multipart, { limits: { fileSize: 100 * 1024 * 1024, files: 1 } });

  app.get('/', async (_req, reply) => reply.type('text/html').send('<!DOCTYPE html><html><head><title>ComfyUI</title></head><body></body></html>'));

  app.post('/prompt', async (req, reply) => {
    const result = engine.submit(req.body);
    return reply.status(result.status).send(result.body);
  });
  app.get('/prompt', async () => ({ exec_info: { queue_remaining: engine.queueRemaining() } }));

  app.get('/history', async (req) => {
    const q = req.query as { max_items?: string; offset?: string };
    return engine.listHistory(q.max_items ? Number(q.max_items) : undefined, q.offset ? Number(q.offset) : -1);
  });
  app.get('/history/:id', async (req) => {
    const id = (req.params as { id: string }).id;
    const item = engine.getHistory(id);
    return item ? { [id]: item } : {};
  });
  app.post('/history', async (req, reply) => {
    const body = (req.body ?? {}) as { clear?: boolean; delete?: string[] };
    if (body.clear) engine.deleteHistory('all');
    if (Array.isArray(body.delete)) engine.deleteHistory(body.delete);
    return reply.status(200).send();
  });

  app.get('/queue', async () => engine.queueState());
  app.post('/queue', async (req, reply) => {
    const body = (req.body ?? {}) as { clear?: boolean; delete?: string[] };
    if (body.clear) engine.deleteQueued('all');
    if (Array.isArray(body.delete)) engine.deleteQueued(body.delete);
    return reply.status(200).send();
  });
  app.post('/interrupt', async (req, reply) => {
    const body = req.body as { prompt_id?: unknown } | undefined;
    engine.interrupt(body && typeof body.prompt_id === 'string' ? body.prompt_id : undefined);
    return reply.status(200).send();
  });

  app.get('/view', async (req, reply) => {
    const q = req.query as { filename?: string; subfolder?: string; type?: string };
    const type = (['input', 'output', 'temp'].includes(q.type ?? '') ? q.type : 'output') as FolderType;
    const target = engine.files.resolve(type, q.subfolder ?? '', q.filename ?? '');
    if (!target.ok) return reply.status(target.status).send();
    if (!engine.files.isFile(target.file)) return reply.status(404).send();
    const name = path.basename(target.file);
    return reply
      .header('content-disposition', `filename="${name}"`)
      .type(MIME[path.extname(name).toLowerCase()] ?? 'application/octet-stream')
      .send(await readFile(target.file));
  });

  app.post('/upload/image', async (req, reply) => {
    if (!req.isMultipart()) return reply.status(400).send();
    let file: { name: string; bytes: Buffer } | null = null;
    const fields: Record<string, string> = {};
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        if (part.fieldname === 'image') file = { name: part.filename, bytes: await part.toBuffer() };
        else await part.toBuffer();
      } else fields[part.fieldname] = String(part.value);
    }
    if (!file || !file.name) return reply.status(400).send();
    const type = (['input', 'temp', 'output'].includes(fields.type ?? '') ? fields.type : 'input') as FolderType;
    const subfolder = fields.subfolder ?? '';
    const overwrite = fields.overwrite === 'true' || fields.overwrite === '1';
    const saved = await engine.files.saveUpload(type, subfolder, file.name, file.bytes, overwrite);
    if ('status' in saved) return reply.status(saved.status).send();
    return { name: saved.name, subfolder, type };
  });

  app.get('/models', async () => FOLDERS);
  app.get('/models/:folder', async (req, reply) => {
    const folder = (req.params as { folder: string }).folder;
    if (!FOLDERS.includes(folder)) return reply.status(404).send();
    return folder === 'loras' ? engine.visibleLoras() : [];
  });

  app.get('/object_info', async () => Object.fromEntries(Object.keys(NODE_CLASSES).map((name) => [name, objectInfo(name, engine)])));
  app.get('/object_info/:cls', async (req) => {
    const name = (req.params as { cls: string }).cls;
    return NODE_CLASSES[name] ? { [name]: objectInfo(name, engine) } : {};
  });

  app.get('/system_stats', async () => ({
    system: {
      os: 'posix',
      ram_total: 135_089_000_000,
      ram_free: 120_000_000_000,
      comfyui_version: '0.3.64',
      python_version: '3.12.3 (main) [GCC 13.2.0]',
      pytorch_version: '2.8.0+cu128',
      embedded_python: false,
      argv: ['main.py', '--disable-auto-launch', '--disable-metadata', '--likeness-emulated'],
    },
    devices: [{ name: 'cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync', type: 'cuda', index: 0, vram_total: 25_393_692_672, vram_free: 24_000_000_000, torch_vram_total: 0, torch_vram_free: 0 }],
  }));
};

/** A reduced /object_info entry (inputs, outputs, output_node), enough for clients that probe classes. */
function objectInfo(name: string, engine: ComfyEngine) {
  const cls = NODE_CLASSES[name]!;
  const spec = (s: (typeof cls.required)[string]) =>
    'type' in s ? [s.type, {}] : 'combo' in s ? [[...s.combo]] : s.dynamic === 'loras' ? [engine.visibleLoras()] : s.dynamic === 'input_images' ? [engine.files.inputImages()] : [[]];
  return {
    input: {
      required: Object.fromEntries(Object.entries(cls.required).map(([k, s]) => [k, spec(s)])),
      optional: Object.fromEntries(Object.entries(cls.optional ?? {}).map(([k, s]) => [k, spec(s)])),
    },
    input_order: { required: Object.keys(cls.required), optional: Object.keys(cls.optional ?? {}) },
    output: cls.returnTypes,
    output_is_list: cls.returnTypes.map(() => false),
    output_name: cls.returnTypes,
    name,
    display_name: name,
    description: '',
    python_module: 'nodes',
    category: 'emulated',
    output_node: cls.outputNode === true,
  };
}
