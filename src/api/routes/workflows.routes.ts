/**
 * POST /v1/workflows/inject: a platform's own ComfyUI API-format workflow with a character's LoRA
 * put in (`injectLora`): by character (its active LoRA for the base model, default the character's)
 * or by LoRA file name(s), strength and trigger word. Answers {workflow, changes}, or 422
 * workflow_unsupported with one sentence when the graph cannot take the LoRA correctly.
 */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { BaseModel } from '../../domain/base-models.js';
import { AppError } from '../../domain/errors.js';
import { injectByCharacterSchema, injectByLoraSchema, injectLora, injectOptionsFromNames, loraFileNames } from '../../generation/workflow/index.js';
import { getCharacter } from '../../services/characters.service.js';
import { plannerFacts } from '../../services/generations.service.js';
import { userIdOf } from '../auth.js';
import { baseModelSchema } from '../schemas.js';
import type { RouteDeps } from '../server.js';

const body = z.union([injectByCharacterSchema.extend({ characterId: z.string().uuid(), baseModel: baseModelSchema.optional() }), injectByLoraSchema]);

export const workflowsRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { ctx }) => {
  app.post('/v1/workflows/inject', { config: { auth: 'user' }, schema: { tags: ['workflows'], body } }, async (req) => {
    const b = req.body;
    let options;
    let lora: Record<string, unknown>;
    if ('characterId' in b) {
      const character = await getCharacter(ctx.db, userIdOf(req.principal), b.characterId);
      const baseModel = (b.baseModel ?? character.baseModel) as BaseModel;
      const active = (await plannerFacts(ctx.db, character, baseModel)).activeLoras[baseModel];
      if (!active) throw new AppError('conflict', `The character has no active LoRA for ${baseModel}.`, { baseModel });
      // The user's switch holds here too: a platform must not get a LoRA the user turned off.
      if (!character.loraEnabled) throw new AppError('conflict', 'LoRA use is turned off for this character.', { baseModel, enabled: false });
      const names = Object.values(loraFileNames(active.id, baseModel)).filter((n): n is string => !!n);
      options = injectOptionsFromNames(names, character.loraStrength, active.triggerWord);
      lora = { loraModelId: active.id, baseModel, fileNames: names, strength: character.loraStrength, triggerWord: active.triggerWord };
    } else {
      userIdOf(req.principal); // a user-scoped route even when nothing of the user's is read
      options = injectOptionsFromNames(b.loraName, b.strength, b.triggerWord);
      lora = { fileNames: options.loras.map((l) => l.name), strength: b.strength, triggerWord: b.triggerWord };
    }
    const result = injectLora(b.workflow, options);
    if (!result.ok) throw new AppError('workflow_unsupported', `Cannot inject the LoRA: ${result.message}.`);
    return { workflow: result.workflow, changes: result.changes, lora };
  });
};
