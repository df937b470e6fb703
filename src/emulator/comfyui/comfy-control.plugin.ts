/**
 * Control API of the emulated ComfyUI (tests and `likeness start` in emulated mode), never subject
 * to injected faults:
 *   GET|PUT /_emulator/comfyui/settings              step time and one-shot faults (ComfySettings)
 *   PUT     /_emulator/comfyui/loras/{name}/face     body: a face photo; a LoRA of that file name now
 *                                                    renders that face (the emulator has no model)
 *   DELETE  /_emulator/comfyui/loras/{name}/face
 *   GET     /_emulator/comfyui/loras                 {files, faces}: the loras folder and the bound names
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { ComfyEngine } from './comfy-engine.js';

const count = z.number().int().min(0);
const settingsPatch = z
  .object({
    stepMs: z.number().min(0).max(10_000),
    facelessNextOutputs: count,
    failNextPrompts: count,
    lorasVisible: z.boolean(),
    failNextLoraDownloads: count,
    failNextRequests: count,
  })
  .partial()
  .strict();

export const comfyControlRoutes: FastifyPluginAsync<{ engine: ComfyEngine }> = async (app, { engine }) => {
  app.addContentTypeParser(/^(image\/.*|application\/octet-stream)$/, { parseAs: 'buffer', bodyLimit: 20 * 1024 * 1024 }, (_req, body, done) => done(null, body));

  app.get('/settings', async () => engine.settings);
  app.put('/settings', async (req, reply) => {
    const parsed = settingsPatch.safeParse(req.body ?? {});
    if (!parsed.success) return reply.status(400).send({ error: 'invalid settings', issues: parsed.error.issues.map((i) => `${i.path.join('.') || '$'}: ${i.message}`) });
    Object.assign(engine.settings, parsed.data);
    return engine.settings;
  });

  app.get('/loras', async () => ({ files: engine.files.loras(), faces: [...engine.loraFaces.keys()].sort() }));
  app.put<{ Params: { name: string } }>('/loras/:name/face', async (req, reply) => {
    const body = req.body;
    if (!Buffer.isBuffer(body) || body.length === 0) return reply.status(400).send({ error: 'send the face photo as the body (content-type image/*)' });
    engine.loraFaces.set(req.params.name, body);
    return { name: req.params.name, bytes: body.length };
  });
  app.delete<{ Params: { name: string } }>('/loras/:name/face', async (req, reply) => {
    engine.loraFaces.delete(req.params.name);
    return reply.status(204).send();
  });
};
