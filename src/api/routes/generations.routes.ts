/**
 * Generations: POST /v1/generations queues one (202, the plan already decided and stored), GET
 * /v1/generations/:id follows it (status, method, plan reason, images with signed URLs and
 * identity scores), POST /v1/generations/plan answers the plan and the workflow without running.
 * A platform may send its own API-format workflow instead of using the builders: the character's
 * LoRA is injected into it (or it runs as sent, with the reason).
 */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { apiWorkflowSchema, type ComfyWorkflow } from '../../generation/workflow/index.js';
import { createGeneration, generationView, getOwnedGeneration, planForRequest } from '../../services/generations.service.js';
import { userIdOf } from '../auth.js';
import { withIdempotency } from '../idempotency.js';
import { baseModelSchema, idParams } from '../schemas.js';
import type { RouteDeps } from '../server.js';

const side = z.number().int().min(256).max(2048).multipleOf(16);

const generationBody = z
  .object({
    characterId: z.string().uuid(),
    prompt: z.string().max(4000).default(''),
    negativePrompt: z.string().max(4000).optional(),
    /** Default: the character's base model. */
    baseModel: baseModelSchema.optional(),
    count: z.number().int().min(1).max(8).default(1),
    seed: z.number().int().min(0).max(2 ** 48).optional(),
    width: side.optional(),
    height: side.optional(),
    /** The platform's own ComfyUI API-format workflow; the LoRA is injected into it. */
    workflow: apiWorkflowSchema.optional(),
  })
  .refine((b) => b.workflow !== undefined || b.prompt.trim().length > 0, { message: 'give a prompt, or your own workflow', path: ['prompt'] });

type GenerationBody = z.infer<typeof generationBody>;

function input(body: GenerationBody) {
  return { ...body, workflow: body.workflow as ComfyWorkflow | undefined };
}

export const generationsRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { ctx }) => {
  app.post('/v1/generations', { config: { auth: 'user' }, schema: { tags: ['generations'], body: generationBody } }, async (req, reply) => {
    const userId = userIdOf(req.principal);
    return withIdempotency(ctx.db, req, reply, userId, async () => {
      const row = await createGeneration(ctx, userId, input(req.body));
      return { status: 202, body: await generationView(ctx, row) };
    });
  });

  app.get('/v1/generations/:id', { config: { auth: 'user' }, schema: { tags: ['generations'], params: idParams } }, async (req) =>
    generationView(ctx, await getOwnedGeneration(ctx.db, userIdOf(req.principal), req.params.id)),
  );

  app.post('/v1/generations/plan', { config: { auth: 'user' }, schema: { tags: ['generations'], body: generationBody } }, async (req) => {
    const planned = await planForRequest(ctx.db, userIdOf(req.principal), input(req.body));
    return { baseModel: planned.request.baseModel, seed: planned.seed, method: planned.plan.method, plan: planned.plan, workflow: planned.workflow };
  });
};
