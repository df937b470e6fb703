/**
 * Reads a stored `job_config` the way AI Toolkit's worker and trainer read it, with the trainer's
 * defaults (toolkit/config_modules.py), into what the training simulation needs.
 *
 * Three outcomes, as on a real install:
 * - the worker itself cannot use the config (`JSON.parse(job.job_config).config.process[0]` throws,
 *   e.g. a double-encoded job_config): startJob dies after setting "Starting job..." and the job
 *   stays `running` forever;
 * - the trainer process fails at a known point (unknown process type, an arch the emulator cannot
 *   lay out): the job ends `error` with that message;
 * - a plan to simulate.
 */
import type { LoraArch } from './lora-layouts.js';
import type { SafetensorsDtype } from './safetensors.writer.js';

export interface TrainPlan {
  /** config.name: the save root's folder name and the checkpoint file prefix (job.name in Python). */
  name: string;
  /** process[0].training_folder as given (resolved against TOOLKIT_ROOT by the trainer). */
  trainingFolder: string;
  /** diffusion_trainer / ui_trainer write progress to the UI's DB; sd_trainer trains silently. */
  reportsToUi: boolean;
  steps: number;
  batchSize: number;
  saveEvery: number;
  maxStepSavesToKeep: number;
  /** The save dtype, or the raw string when it is not one torch knows (fails at the first save). */
  saveDtype: SafetensorsDtype | { unknown: string };
  sampleEvery: number;
  sampleStartStep: number;
  skipFirstSample: boolean;
  forceFirstSample: boolean;
  disableSampling: boolean;
  prompts: string[];
  sampleWidth: number;
  sampleHeight: number;
  sampleExt: string;
  performanceLogEvery: number;
  /** logging.log_every (default 100) and logging.use_ui_logger: the loss series AITK keeps in loss_log.db. */
  logEvery: number;
  useUiLogger: boolean;
  /** The LoRA layout, or why the emulator cannot produce one. */
  arch: { ok: true; arch: LoraArch; label: string } | { ok: false; message: string };
  /** Wan 2.2: the stage files written ('main' for every other arch). */
  parts: Array<'main' | 'high_noise' | 'low_noise'>;
  rank: number;
  /** Only plain `lora` is emulated (lokr/locon change the key set). */
  networkType: string;
  triggerWord: string | null;
  datasetFolders: Array<{ folderPath: string; numRepeats: number }>;
  meta: Record<string, unknown>;
  modelName: string;
}

export type ParsedJobConfig =
  | { kind: 'worker-crash'; message: string }
  | { kind: 'trainer-exit'; message: string }
  | { kind: 'plan'; plan: TrainPlan };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const num = (v: unknown, dflt: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : dflt);
const bool = (v: unknown, dflt: boolean): boolean => (typeof v === 'boolean' ? v : dflt);
const str = (v: unknown, dflt: string): string => (typeof v === 'string' ? v : dflt);

const DTYPES: Record<string, SafetensorsDtype> = {
  float: 'F32',
  fp32: 'F32',
  single: 'F32',
  float32: 'F32',
  fp16: 'F16',
  half: 'F16',
  float16: 'F16',
  bf16: 'BF16',
  bfloat16: 'BF16',
  '8bit': 'F8_E4M3',
  e4m3fn: 'F8_E4M3',
  float8: 'F8_E4M3',
};

export const EMULATED_ARCHES = ['flux', 'zimage:turbo', 'wan21:14b', 'wan21:1b', 'wan22_14b:t2v', 'qwen_image'];

function resolveArch(model: Obj): TrainPlan['arch'] {
  const raw = typeof model.arch === 'string' ? model.arch : model.is_flux === true ? 'flux' : undefined;
  const unsupported = (what: string): TrainPlan['arch'] => ({
    ok: false,
    message: `Emulator: model arch '${what}' is not emulated (emulated: ${EMULATED_ARCHES.join(', ')})`,
  });
  if (raw === undefined) return unsupported(String(model.name_or_path ?? 'unknown'));
  const [base, tag] = raw.split(':');
  const nameOrPath = str(model.name_or_path, '');
  switch (base) {
    case 'flux':
      return { ok: true, arch: 'flux', label: raw };
    case 'zimage':
      return { ok: true, arch: 'zimage', label: raw };
    case 'wan21':
      // wan21:1b and wan21:14b are one model class; only name_or_path tells them apart in AITK.
      if (tag === '1b' || (tag === undefined && /1[._]3b/i.test(nameOrPath))) return { ok: true, arch: 'wan21_1b', label: raw };
      return { ok: true, arch: 'wan21_14b', label: raw };
    case 'wan22_14b':
      if (tag !== undefined && tag !== 't2v') return unsupported(raw);
      return { ok: true, arch: 'wan22_14b', label: raw };
    case 'qwen_image':
      if (tag !== undefined) return unsupported(raw);
      return { ok: true, arch: 'qwen_image', label: raw };
    default:
      return unsupported(raw);
  }
}

export function parseJobConfig(jobConfig: string): ParsedJobConfig {
  let root: unknown;
  try {
    root = JSON.parse(jobConfig);
  } catch (err) {
    return { kind: 'worker-crash', message: `SyntaxError: ${(err as Error).message}` };
  }
  const config = isObj(root) ? root.config : undefined;
  const processes = isObj(config) ? config.process : undefined;
  const proc0 = Array.isArray(processes) ? processes[0] : undefined;
  if (!isObj(proc0)) {
    return { kind: 'worker-crash', message: "TypeError: Cannot set properties of undefined (setting 'sqlite_db_path')" };
  }
  const cfg = config as Obj;
  const type = proc0.type;
  if (type !== 'diffusion_trainer' && type !== 'ui_trainer' && type !== 'sd_trainer') {
    // run.py cannot find an extension with that uid and exits non-zero.
    return { kind: 'trainer-exit', message: `Job process terminated with exit code 1.` };
  }
  if (typeof cfg.name !== 'string') return { kind: 'trainer-exit', message: 'Job process terminated with exit code 1.' };

  const network = obj(proc0.network);
  const save = obj(proc0.save);
  const train = obj(proc0.train);
  const sample = obj(proc0.sample);
  const model = obj(proc0.model);
  const logging = obj(proc0.logging);
  const modelKwargs = obj(model.model_kwargs);

  const samplesRaw = Array.isArray(sample.samples)
    ? sample.samples.map((s) => obj(s).prompt)
    : Array.isArray(sample.prompts)
      ? sample.prompts
      : [];
  const prompts = samplesRaw.filter((p): p is string => typeof p === 'string');
  let sampleExt = str(sample.format, 'jpg');
  if (num(sample.num_frames, 1) > 1 && sampleExt !== 'webp') sampleExt = 'webp';

  const arch = resolveArch(model);
  let parts: TrainPlan['parts'] = ['main'];
  if (arch.ok && arch.arch === 'wan22_14b' && network.split_multistage_loras !== false) {
    const high = modelKwargs.train_high_noise !== false;
    const low = modelKwargs.train_low_noise !== false;
    parts = [...(high ? (['high_noise'] as const) : []), ...(low ? (['low_noise'] as const) : [])];
  }
  const rawDtype = str(save.dtype, 'float16');
  const datasets = Array.isArray(proc0.datasets) ? proc0.datasets.map(obj) : [];

  return {
    kind: 'plan',
    plan: {
      name: cfg.name,
      trainingFolder: str(proc0.training_folder, 'output'),
      reportsToUi: type !== 'sd_trainer',
      steps: Math.max(0, Math.floor(num(train.steps, 1000))),
      batchSize: Math.max(1, num(train.batch_size, 1)),
      saveEvery: Math.max(0, Math.floor(num(save.save_every, 1000))),
      maxStepSavesToKeep: Math.max(0, Math.floor(num(save.max_step_saves_to_keep, 5))),
      saveDtype: DTYPES[rawDtype] ?? { unknown: rawDtype },
      sampleEvery: Math.max(0, Math.floor(num(sample.sample_every, 100))),
      sampleStartStep: num(sample.sample_start_step, 0),
      skipFirstSample: bool(train.skip_first_sample, false),
      forceFirstSample: bool(train.force_first_sample, false),
      disableSampling: bool(train.disable_sampling, false),
      prompts,
      sampleWidth: num(sample.width, 512),
      sampleHeight: num(sample.height, 512),
      sampleExt,
      performanceLogEvery: Math.max(0, Math.floor(num(proc0.performance_log_every, 0))),
      logEvery: Math.max(0, Math.floor(num(logging.log_every, 100))),
      useUiLogger: bool(logging.use_ui_logger, false),
      arch,
      parts,
      rank: Math.max(1, Math.floor(num(network.rank ?? network.linear, 4))),
      networkType: str(network.type, 'lora'),
      triggerWord: typeof proc0.trigger_word === 'string' ? proc0.trigger_word : null,
      datasetFolders: datasets.map((d) => ({ folderPath: str(d.folder_path, ''), numRepeats: Math.max(1, num(d.num_repeats, 1)) })),
      meta: isObj((root as Obj).meta) ? ((root as Obj).meta as Obj) : {},
      modelName: str(model.name_or_path, ''),
    },
  };
}
