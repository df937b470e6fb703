/**
 * The platform's planned training parameters per base model (DESIGN.md "Training parameters the
 * platform planned"), as a pure function. Provider paths are not part of a recipe: the AI Toolkit
 * config builder adds them. Every number here is a product decision; the reason is next to it.
 */
import type { BaseModel } from '../domain/base-models.js';
import type { TrainingRecipe } from './training-backend.js';

export type RecipeOverrides = Partial<Omit<TrainingRecipe, 'baseModel' | 'triggerWord'>>;

type RecipeDefaults = Omit<TrainingRecipe, 'baseModel' | 'triggerWord' | 'samplePrompts'>;

const DEFAULTS: Record<BaseModel, RecipeDefaults> = {
  // Z-Image Turbo: 1024 px native; lr 1e-4 because higher "destroys quality" on the distilled
  // model (platform spec); rank 16 is the top of the planned 8-16 range (a face needs detail);
  // 2500 steps is the middle of the planned 2000-3000. A checkpoint every 250 steps gives 10
  // candidates for the identity-scored checkpoint choice at finalize.
  'zimage-turbo': {
    steps: 2500,
    rank: 16,
    alpha: 16,
    learningRate: 1e-4,
    resolutions: [1024],
    saveEvery: 250,
    sampleEvery: 250,
  },
  // FLUX.1-dev: a face converges in 700-1000 steps (platform spec), checkpoint every 100 so the
  // best of 10 can be kept; rank 16 and buckets 512/768/1024 as hosted trainers default to;
  // lr 1e-4 (the spec's choice; hosted trainers' 4e-4 overfits faces on 5-10 images).
  'flux-dev': {
    steps: 1000,
    rank: 16,
    alpha: 16,
    learningRate: 1e-4,
    resolutions: [512, 768, 1024],
    saveEvery: 100,
    sampleEvery: 100,
  },
  // Wan 2.1 14B image LoRA: 512 px keeps the 14B model inside 24 GB with low-VRAM mode; 2500
  // steps is the middle of the planned 2000-3000; checkpoint every 500 (planned).
  wan21: {
    steps: 2500,
    rank: 16,
    alpha: 16,
    learningRate: 1e-4,
    resolutions: [512],
    saveEvery: 500,
    sampleEvery: 500,
  },
  // Wan 2.2 A14B: the same plan as Wan 2.1; AI Toolkit trains both experts and writes two files.
  wan22: {
    steps: 2500,
    rank: 16,
    alpha: 16,
    learningRate: 1e-4,
    resolutions: [512],
    saveEvery: 500,
    sampleEvery: 500,
  },
  // Qwen-Image: 1328 px is its native square size, 1024 adds a second bucket so mid-size
  // generations also look right; 3000 steps within the planned 2000-4000; rank 32 (top of the
  // planned 16-32: the 20B model's LoRA needs the capacity for a face). Checkpoint every 500.
  'qwen-image': {
    steps: 3000,
    rank: 32,
    alpha: 32,
    learningRate: 1e-4,
    resolutions: [1024, 1328],
    saveEvery: 500,
    sampleEvery: 500,
  },
};

/**
 * Sample prompts are what finalize scores against the character's identity, so each shows one
 * clearly visible face, in different framings, and names the character by its trigger word.
 */
export function defaultSamplePrompts(triggerWord: string): string[] {
  return [
    `close-up portrait photo of ${triggerWord}, soft natural light, looking at the camera`,
    `photo of ${triggerWord} standing in a city street, medium shot, daylight`,
    `photo of ${triggerWord}, three-quarter view, studio lighting, plain background`,
  ];
}

export function defaultRecipe(
  baseModel: BaseModel,
  triggerWord: string,
  overrides: RecipeOverrides = {},
): TrainingRecipe {
  if (!triggerWord.trim()) throw new RangeError('A training recipe needs a non-empty trigger word.');
  const recipe: TrainingRecipe = {
    baseModel,
    triggerWord,
    ...DEFAULTS[baseModel],
    resolutions: [...DEFAULTS[baseModel].resolutions],
    samplePrompts: defaultSamplePrompts(triggerWord),
    ...stripUndefined(overrides),
  };
  assertValidRecipe(recipe);
  return recipe;
}

/** The invariants every builder relies on; throws a RangeError naming the first one broken. */
export function assertValidRecipe(recipe: TrainingRecipe): void {
  const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
  if (!positiveInt(recipe.steps)) throw new RangeError(`steps must be a positive integer, got ${recipe.steps}.`);
  if (!positiveInt(recipe.rank)) throw new RangeError(`rank must be a positive integer, got ${recipe.rank}.`);
  if (!(recipe.alpha > 0)) throw new RangeError(`alpha must be positive, got ${recipe.alpha}.`);
  if (!(recipe.learningRate > 0 && recipe.learningRate < 1)) {
    throw new RangeError(`learningRate must be in (0, 1), got ${recipe.learningRate}.`);
  }
  if (!positiveInt(recipe.saveEvery)) throw new RangeError(`saveEvery must be a positive integer.`);
  if (!positiveInt(recipe.sampleEvery)) throw new RangeError(`sampleEvery must be a positive integer.`);
  // Multiples of 16: the VAE downsamples by 8 and the transformers patch 2x2 latents (1328 = 83 x 16).
  if (recipe.resolutions.length === 0 || !recipe.resolutions.every((r) => positiveInt(r) && r % 16 === 0)) {
    throw new RangeError(`resolutions must be multiples of 16 px, got [${recipe.resolutions.join(', ')}].`);
  }
  if (recipe.samplePrompts.length === 0) throw new RangeError('A recipe needs at least one sample prompt.');
  const missing = recipe.samplePrompts.find((p) => !p.includes(recipe.triggerWord));
  if (missing !== undefined) {
    throw new RangeError(`Sample prompt "${missing}" does not contain the trigger word "${recipe.triggerWord}".`);
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
