/** The training recipe for a run: the base model's defaults, with operator overrides applied. */
import type { BaseModel } from '../domain/base-models.js';
import { defaultRecipe } from '../training/training-recipes.js';
import type { TrainingRecipe } from '../training/training-backend.js';
import type { ServiceContext } from './context.js';

export function recipeFor(ctx: Pick<ServiceContext, 'config'>, baseModel: BaseModel, triggerWord: string): TrainingRecipe {
  const o = ctx.config.recipeOverrides;
  const overrides: Partial<TrainingRecipe> = {};
  if (o.steps) {
    overrides.steps = o.steps;
    overrides.saveEvery = Math.max(1, Math.floor(o.steps / 4));
    overrides.sampleEvery = Math.max(1, Math.floor(o.steps / 4));
  }
  if (o.rank) {
    overrides.rank = o.rank;
    overrides.alpha = o.rank;
  }
  return defaultRecipe(baseModel, triggerWord, overrides);
}
