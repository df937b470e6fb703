/**
 * The contract of `injectLora`: what it takes, what it reports, and how it refuses. `changes` is
 * what `likeness workflow inject --explain` prints and what POST /v1/workflows/inject returns.
 */
import type { LoraPart } from '../../domain/base-models.js';
import type { ComfyWorkflow, Link } from './comfy-workflow.types.js';

export interface InjectedLora {
  /** File name as ComfyUI's loras folder lists it, e.g. `char_abc.safetensors`. */
  name: string;
  strength: number;
  /** Wan 2.2 files go on their own expert; absent or `main` goes on every base model loader. */
  part?: LoraPart;
}

export interface InjectLoraOptions {
  loras: InjectedLora[];
  triggerWord: string;
}

export type LoaderAction = 'lora_added' | 'lora_already_present' | 'skipped_refiner' | 'skipped_other_expert';

export interface LoaderChange {
  nodeId: string;
  classType: string;
  modelFile?: string;
  role: 'main' | 'high_noise' | 'low_noise' | 'refiner';
  action: LoaderAction;
  loraName?: string;
}

export interface AddedNode {
  nodeId: string;
  classType: string;
  /** The LoRA file for LoRA nodes; absent for the prompt-joining node. */
  loraName?: string;
  strength?: number;
  /** Where it was inserted, for people: "node 4 output 0" (the output it now reads). */
  after: string;
}

export interface RewiredInput {
  nodeId: string;
  input: string;
  from: Link | null;
  to: Link;
}

export interface PromptChange {
  nodeId: string;
  classType: string;
  field: string;
  action: 'prepended' | 'already_starts_with_trigger' | 'joined_upstream_text';
  /** The encoders whose positive prompt this text is, when the text lives upstream of them. */
  forEncoders: string[];
}

export interface InjectionChanges {
  loaders: LoaderChange[];
  addedNodes: AddedNode[];
  rewired: RewiredInput[];
  prompts: PromptChange[];
  /** Things worth a look that did not stop the injection. */
  warnings: string[];
}

export interface InjectionRefusal {
  ok: false;
  code: 'workflow_unsupported';
  /** One sentence, for a person: why this workflow cannot get the LoRA correctly. */
  message: string;
}

export type InjectionResult = { ok: true; workflow: ComfyWorkflow; changes: InjectionChanges } | InjectionRefusal;

/**
 * Thrown inside the injection pipeline when a workflow cannot get the LoRA correctly; `injectLora`
 * turns it into the typed `InjectionRefusal`. Nothing outside this folder catches it.
 */
export class InjectionRefusalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InjectionRefusalError';
  }
}

/** Refusals are one sentence for a person, starting lower-case so they read after "Cannot inject: ". */
export function refuse(message: string): never {
  throw new InjectionRefusalError(message);
}
