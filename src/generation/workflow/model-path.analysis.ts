/**
 * Finds the samplers of a workflow and, for each, the base-model loaders its MODEL comes from, by
 * walking `model` inputs upstream through whatever sits between (ModelSamplingFlux, PuLID, IPAdapter,
 * TeaCache, CFGNorm, existing LoRA chains ...). Also tells a Wan 2.2 high-noise expert from its
 * low-noise twin and an SDXL refiner from its base.
 */
import {
  LOADERS_WITHOUT_LORA,
  MODEL_LOADERS,
  type SamplerSpec,
  loraNamesOnNode,
  modelFileName,
  modelPassInputs,
  samplerSpec,
} from './comfy-node.catalog.js';
import { type ComfyWorkflow, type Link, isLink, linkKey } from './comfy-workflow.types.js';
import { reachesDownstream } from './workflow-graph.util.js';

export interface SamplerSite {
  nodeId: string;
  spec: SamplerSpec;
}

/** A loader output that feeds samplers, with what is known about the paths. */
export interface LoaderUse {
  loaderId: string;
  /** The output index the samplers' models come from (0 for every loader known today). */
  outputIndex: number;
  samplerIds: string[];
  /** LoRA files applied on every path from this loader to its samplers. */
  lorasOnEveryPath: Set<string>;
}

export interface ModelScan {
  samplers: SamplerSite[];
  loaders: LoaderUse[];
  /** Nodes where a model path starts that are not loaders Likeness can put a LoRA after. */
  unknownRoots: Array<{ nodeId: string; samplerId: string }>;
}

interface RootHit {
  loaderId: string;
  outputIndex: number;
  loras: Set<string>;
}

export function findSamplers(workflow: ComfyWorkflow): SamplerSite[] {
  const sites: SamplerSite[] = [];
  for (const [nodeId, node] of Object.entries(workflow)) {
    const spec = samplerSpec(node);
    if (spec) sites.push({ nodeId, spec });
  }
  return sites;
}

export function scanModelPaths(workflow: ComfyWorkflow): ModelScan {
  const samplers = findSamplers(workflow);
  // Memoised per node: the graph is acyclic (checked before), and diamonds (ModelMergeSimple) would
  // otherwise be walked once per path.
  const memo = new Map<string, { hits: RootHit[]; unknown: string[] }>();

  const walk = (from: Link): { hits: RootHit[]; unknown: string[] } => {
    const key = linkKey(from);
    const cached = memo.get(key);
    if (cached) return cached;
    const node = workflow[from[0]]!;
    let result: { hits: RootHit[]; unknown: string[] };
    if (MODEL_LOADERS[node.class_type] || LOADERS_WITHOUT_LORA[node.class_type]) {
      result = { hits: [{ loaderId: from[0], outputIndex: from[1], loras: new Set() }], unknown: [] };
    } else {
      const inputs = modelPassInputs(node);
      if (inputs.length === 0) {
        result = { hits: [], unknown: [from[0]] };
      } else {
        const own = loraNamesOnNode(node);
        result = { hits: [], unknown: [] };
        for (const input of inputs) {
          const upstream = walk(node.inputs[input] as Link);
          for (const hit of upstream.hits) {
            result.hits.push({ ...hit, loras: new Set([...hit.loras, ...own]) });
          }
          result.unknown.push(...upstream.unknown);
        }
      }
    }
    memo.set(key, result);
    return result;
  };

  const uses = new Map<string, LoaderUse>();
  const unknownRoots: ModelScan['unknownRoots'] = [];
  for (const site of samplers) {
    const modelLink = workflow[site.nodeId]!.inputs[site.spec.model];
    if (!isLink(modelLink)) continue;
    const { hits, unknown } = walk(modelLink);
    for (const nodeId of new Set(unknown)) unknownRoots.push({ nodeId, samplerId: site.nodeId });
    for (const hit of hits) {
      const key = linkKey([hit.loaderId, hit.outputIndex]);
      const use = uses.get(key);
      if (!use) {
        uses.set(key, { ...hit, samplerIds: [site.nodeId], lorasOnEveryPath: new Set(hit.loras) });
      } else {
        if (!use.samplerIds.includes(site.nodeId)) use.samplerIds.push(site.nodeId);
        for (const name of use.lorasOnEveryPath) if (!hit.loras.has(name)) use.lorasOnEveryPath.delete(name);
      }
    }
  }
  return { samplers, loaders: [...uses.values()], unknownRoots };
}

export type LoaderRole = 'refiner' | 'high_noise' | 'low_noise' | 'main';

/**
 * What a loader's file name says it is. An SDXL refiner is a different architecture from its base,
 * so a LoRA trained on the base must not go on it; Wan 2.2's two experts each take their own file.
 */
export function roleFromFileName(fileName: string | undefined): LoaderRole {
  if (!fileName) return 'main';
  if (/refiner/i.test(fileName)) return 'refiner';
  // "high_noise" (Comfy-Org's repackaged files) or a separate HIGH token (Kijai's "A14B-HIGH_fp8").
  if (/(?:^|[^a-z0-9])high(?:[_\-. ]?noise)?(?=[^a-z0-9]|$)/i.test(fileName)) return 'high_noise';
  if (/(?:^|[^a-z0-9])low(?:[_\-. ]?noise)?(?=[^a-z0-9]|$)/i.test(fileName)) return 'low_noise';
  return 'main';
}

/**
 * Roles for the loaders that will carry the LoRA. File names decide first; when two loaders remain
 * unnamed, the one whose sampler runs first (its latent flows into the other's sampler) is the
 * high-noise expert, as in every two-stage Wan 2.2 graph.
 */
export function classifyLoaders(
  workflow: ComfyWorkflow,
  loaders: LoaderUse[],
  readers: Map<string, string[]>,
): Map<string, LoaderRole> {
  const roles = new Map<string, LoaderRole>();
  for (const use of loaders) roles.set(use.loaderId, roleFromFileName(modelFileName(workflow[use.loaderId]!)));
  const unnamed = loaders.filter((use) => roles.get(use.loaderId) === 'main');
  const named = loaders.filter((use) => {
    const role = roles.get(use.loaderId);
    return role === 'high_noise' || role === 'low_noise';
  });
  const candidates = named.length === 0 && unnamed.length === 2 ? unnamed : [];
  if (candidates.length === 2) {
    const [a, b] = candidates as [LoaderUse, LoaderUse];
    const aFirst = a.samplerIds.some((sa) => b.samplerIds.some((sb) => reachesDownstream(readers, sa, sb)));
    const bFirst = b.samplerIds.some((sb) => a.samplerIds.some((sa) => reachesDownstream(readers, sb, sa)));
    if (aFirst !== bFirst) {
      roles.set(a.loaderId, aFirst ? 'high_noise' : 'low_noise');
      roles.set(b.loaderId, aFirst ? 'low_noise' : 'high_noise');
    }
  }
  return roles;
}
