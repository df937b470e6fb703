/** Request schemas shared by routes (zod; they also generate the OpenAPI document). */
import { z } from 'zod';
import { BASE_MODELS } from '../domain/base-models.js';

export const idParams = z.object({ id: z.string().uuid('must be an id') });
export const baseModelSchema = z.enum(BASE_MODELS);
export const errorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});
