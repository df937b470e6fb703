/**
 * `injectLora`: puts a character's LoRA into a ComfyUI API-format workflow a platform already has,
 * or refuses in one sentence. Pure: the input is never mutated, no I/O.
 *
 * Order of work: check the graph is whole -> find samplers and the loaders their models come from ->
 * refuse what cannot be done right (unknown loaders, loaders with no LoRA node, unmatched Wan 2.2
 * experts) -> attach LoRA nodes per loader family -> put the trigger word on the positive prompts
 * of the samplers that now carry the LoRA. Refusals happen before any change that could be seen.
 */
import { LOADERS_WITHOUT_LORA, MODEL_LOADERS, modelFileName } from './comfy-node.catalog.js';
import { type ComfyWorkflow, checkWorkflowShape } from './comfy-workflow.types.js';
import { attachLoras, wanVideoChainLoras } from './lora-attachment.js';
import {
  type InjectLoraOptions,
  type InjectedLora,
  type InjectionChanges,
  InjectionRefusalError,
  type InjectionResult,
  type LoaderChange,
  refuse,
} from './lora-injection.types.js';
import { type LoaderRole, type LoaderUse, classifyLoaders, scanModelPaths } from './model-path.analysis.js';
import { scanPrompts } from './prompt-path.analysis.js';
import { addTriggerWord } from './prompt-trigger.js';
import {
  buildConsumerIndex,
  buildReaderIndex,
  createIdAllocator,
  findDanglingLink,
  isAcyclic,
} from './workflow-graph.util.js';

export function injectLora(workflow: unknown, options: InjectLoraOptions): InjectionResult {
  try {
    return { ok: true, ...inject(workflow, options) };
  } catch (error) {
    if (error instanceof InjectionRefusalError) {
      return { ok: false, code: 'workflow_unsupported', message: error.message };
    }
    throw error;
  }
}

function inject(input: unknown, options: InjectLoraOptions): { workflow: ComfyWorkflow; changes: InjectionChanges } {
  if (options.loras.length === 0) throw new TypeError('injectLora needs at least one LoRA');
  const workflow = checkedCopy(input);
  const scan = scanModelPaths(workflow);
  if (scan.samplers.length === 0) refuse('no sampler or guider was found, so there is no model to put the LoRA on');
  const unknown = scan.unknownRoots[0];
  if (unknown) {
    const cls = workflow[unknown.nodeId]!.class_type;
    refuse(
      `the model of sampler ${unknown.samplerId} comes from node ${unknown.nodeId} (${cls}), ` +
        'which is not a model loader Likeness can put a LoRA after',
    );
  }
  for (const use of scan.loaders) {
    const reason = LOADERS_WITHOUT_LORA[workflow[use.loaderId]!.class_type];
    if (reason) refuse(reason);
  }

  const roles = classifyLoaders(workflow, scan.loaders, buildReaderIndex(workflow));
  const plan = planAssignments(workflow, scan.loaders, roles, options.loras);
  const changes: InjectionChanges = { loaders: [], addedNodes: [], rewired: [], prompts: [], warnings: [] };
  const ctx = { workflow, changes, consumers: buildConsumerIndex(workflow), newId: createIdAllocator(workflow) };
  const loraSamplers = new Set<string>();

  for (const { use, role, loras } of plan) {
    const node = workflow[use.loaderId]!;
    const base: Omit<LoaderChange, 'action'> = { nodeId: use.loaderId, classType: node.class_type, role };
    const modelFile = modelFileName(node);
    if (modelFile) base.modelFile = modelFile;
    if (role === 'refiner' || loras.length === 0) {
      changes.loaders.push({ ...base, action: role === 'refiner' ? 'skipped_refiner' : 'skipped_other_expert' });
      continue;
    }
    const kind = MODEL_LOADERS[node.class_type]!;
    const present = kind === 'wanvideo' ? wanVideoChainLoras(workflow, use.loaderId) : use.lorasOnEveryPath;
    const toAdd: InjectedLora[] = [];
    for (const lora of loras) {
      const already = present.has(lora.name);
      changes.loaders.push({ ...base, action: already ? 'lora_already_present' : 'lora_added', loraName: lora.name });
      if (!already) toAdd.push(lora);
    }
    attachLoras(ctx, kind, use.loaderId, use.outputIndex, toAdd);
    for (const samplerId of use.samplerIds) loraSamplers.add(samplerId);
  }

  addTriggerWord({ ...ctx, triggerWord: options.triggerWord }, scanPrompts(workflow, scan.samplers), loraSamplers);

  // The steps above keep these invariants by construction; a failure here is a bug, not a refusal.
  if (findDanglingLink(workflow) || !isAcyclic(workflow)) throw new Error('LoRA injection produced an invalid graph');
  return { workflow, changes };
}

function checkedCopy(input: unknown): ComfyWorkflow {
  const problem = checkWorkflowShape(input);
  if (problem?.kind === 'ui_format') {
    refuse('this is an editor (UI-format) workflow; export it from ComfyUI with "Export (API)" and inject that');
  }
  if (problem?.kind === 'bad_node') refuse(`node ${problem.nodeId} has no class_type or inputs, so this is not an API-format workflow`);
  if (problem) refuse('this is not an API-format ComfyUI workflow (an object of nodes, each with class_type and inputs)');
  const workflow = cloneJson(input) as ComfyWorkflow;
  const dangling = findDanglingLink(workflow);
  if (dangling) {
    refuse(`node ${dangling.nodeId} reads its ${dangling.input} input from node ${dangling.link[0]}, which does not exist`);
  }
  if (!isAcyclic(workflow)) refuse('the workflow has a cycle, so ComfyUI could not run it');
  return workflow;
}

/** Deep copy of JSON data; several times faster than structuredClone on workflow-sized objects. */
function cloneJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(cloneJson);
  if (value !== null && typeof value === 'object') {
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const item = cloneJson((value as Record<string, unknown>)[key]);
      // An own "__proto__" key (JSON.parse makes those) must stay data, not become a prototype.
      if (key === '__proto__') Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true, configurable: true });
      else copy[key] = item;
    }
    return copy;
  }
  return value;
}

interface Assignment {
  use: LoaderUse;
  role: LoaderRole;
  loras: InjectedLora[];
}

/**
 * Which LoRA files go on which loader. Files without a part go on every base loader; Wan 2.2's
 * high-/low-noise files go on the matching expert only; refiners get nothing.
 */
function planAssignments(
  workflow: ComfyWorkflow,
  loaders: LoaderUse[],
  roles: Map<string, LoaderRole>,
  loras: InjectedLora[],
): Assignment[] {
  const shared = loras.filter((l) => l.part === undefined || l.part === 'main');
  const perExpert = loras.filter((l) => l.part === 'high_noise' || l.part === 'low_noise');
  const bases = loaders.filter((use) => roles.get(use.loaderId) !== 'refiner');
  if (bases.length === 0) refuse('every model loader that reaches a sampler is an SDXL refiner, which a character LoRA does not fit');

  if (perExpert.length > 0) {
    if (bases.length === 1) {
      refuse('this workflow has one model loader, but the LoRA has separate high-noise and low-noise files (Wan 2.2); use a workflow with both experts');
    }
    const unmatched = bases.find((use) => roles.get(use.loaderId) === 'main');
    if (unmatched) {
      const loader = workflow[unmatched.loaderId]!;
      const what = modelFileName(loader) ?? loader.class_type;
      refuse(
        `model loader ${unmatched.loaderId} (${what}) is neither the high-noise nor the low-noise Wan 2.2 expert, ` +
          'so the LoRA files cannot be matched to it',
      );
    }
    for (const part of new Set(perExpert.map((l) => l.part))) {
      if (!bases.some((use) => roles.get(use.loaderId) === part)) {
        refuse(`no ${part === 'high_noise' ? 'high-noise' : 'low-noise'} Wan 2.2 expert loader was found for the ${part} LoRA file`);
      }
    }
  }

  return loaders.map((use) => {
    const role = roles.get(use.loaderId) ?? 'main';
    if (role === 'refiner') return { use, role, loras: [] };
    return { use, role, loras: [...shared, ...perExpert.filter((l) => l.part === role)] };
  });
}
