/**
 * The one place the UI spells a training run's status (and an image's check verdict, a generation's
 * status and method, an identity match): each maps
 * to a label, a colour and an icon, and to what the screens need to decide (is it still running,
 * how did it end). Screens ask `runStatus(run.status)`; none compares status strings.
 *
 * The maps are exhaustive over the statuses the API sends (the `satisfies` clauses and
 * tests/web/status-map.test.ts, which compares them with the server's state list). A status this
 * build does not know yet (a newer server) still renders, in grey, under its raw name.
 */
import {
  IconBan,
  IconCheck,
  IconFaceId,
  IconFaceIdError,
  IconPhoto,
  IconSparkles,
  IconCircleCheck,
  IconClock,
  IconCloudUpload,
  IconCpu,
  IconHelp,
  IconPackage,
  IconPhotoSearch,
  IconX,
  type Icon,
} from '@tabler/icons-react';

/** How a run ended, or that it has not yet. */
export type RunOutcome = 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface StatusInfo {
  label: string;
  /** A Mantine colour name. */
  color: string;
  icon: Icon;
  outcome: RunOutcome;
  /** One sentence for the status card. */
  hint: string;
}

const RUN_STATUS_MAP = {
  queued: { label: 'Queued', color: 'gray', icon: IconClock, outcome: 'running', hint: 'Waiting for a worker to pick the training up.' },
  preparing: { label: 'Preparing images', color: 'blue', icon: IconPhotoSearch, outcome: 'running', hint: 'Checking, cropping and captioning the training images.' },
  submitting: { label: 'Starting GPU', color: 'indigo', icon: IconCloudUpload, outcome: 'running', hint: 'Handing the dataset to the training backend.' },
  training: { label: 'Training', color: 'violet', icon: IconCpu, outcome: 'running', hint: 'The LoRA is being trained.' },
  finalizing: { label: 'Finalizing', color: 'cyan', icon: IconPackage, outcome: 'running', hint: 'Verifying and storing the trained LoRA.' },
  ready: { label: 'Ready', color: 'green', icon: IconCircleCheck, outcome: 'succeeded', hint: 'The LoRA is trained and used in generations.' },
  failed: { label: 'Failed', color: 'red', icon: IconX, outcome: 'failed', hint: 'The training did not finish; its credits were released.' },
  cancelled: { label: 'Cancelled', color: 'orange', icon: IconBan, outcome: 'cancelled', hint: 'The training was cancelled; its credits were released.' },
} as const satisfies Record<string, StatusInfo>;

export type RunStatus = keyof typeof RUN_STATUS_MAP;
export const RUN_STATUSES = Object.keys(RUN_STATUS_MAP) as RunStatus[];

export function runStatus(status: string): StatusInfo {
  return (RUN_STATUS_MAP as Record<string, StatusInfo>)[status] ?? { label: status, color: 'gray', icon: IconHelp, outcome: 'running', hint: '' };
}

export function isRunActive(status: string): boolean {
  return runStatus(status).outcome === 'running';
}

export interface CheckInfo {
  label: string;
  color: string;
  icon: Icon;
  /** Whether the image can be trained on. */
  usable: boolean;
}

const CHECK_STATUS_MAP = {
  accepted: { label: 'Accepted', color: 'green', icon: IconCheck, usable: true },
  rejected: { label: 'Rejected', color: 'red', icon: IconX, usable: false },
} as const satisfies Record<string, CheckInfo>;

export type CheckStatus = keyof typeof CHECK_STATUS_MAP;
export const CHECK_STATUSES = Object.keys(CHECK_STATUS_MAP) as CheckStatus[];

export function checkStatus(status: string): CheckInfo {
  return (CHECK_STATUS_MAP as Record<string, CheckInfo>)[status] ?? { label: status, color: 'gray', icon: IconHelp, usable: false };
}

/** A generation's status (src/db/generations.repo.ts GenerationStatusValue). */
export interface GenerationStatusInfo {
  label: string;
  color: string;
  icon: Icon;
  /** Still queued or running: the studio keeps polling it. */
  active: boolean;
}

const GENERATION_STATUS_MAP = {
  queued: { label: 'Queued', color: 'gray', icon: IconClock, active: true },
  running: { label: 'Generating', color: 'violet', icon: IconCpu, active: true },
  completed: { label: 'Completed', color: 'green', icon: IconCircleCheck, active: false },
  failed: { label: 'Failed', color: 'red', icon: IconX, active: false },
} as const satisfies Record<string, GenerationStatusInfo>;

export type GenerationStatus = keyof typeof GENERATION_STATUS_MAP;
export const GENERATION_STATUSES = Object.keys(GENERATION_STATUS_MAP) as GenerationStatus[];

export function generationStatus(status: string): GenerationStatusInfo {
  // An unknown status (a newer server) is shown, and not polled forever.
  return (GENERATION_STATUS_MAP as Record<string, GenerationStatusInfo>)[status] ?? { label: status, color: 'gray', icon: IconHelp, active: false };
}

/** How a generation keeps the character's identity (src/domain/generation-planner.ts GenerationMethod). */
export interface MethodInfo {
  label: string;
  color: string;
  icon: Icon;
  /** One sentence for whoever wonders what the method means. */
  hint: string;
}

const GENERATION_METHOD_MAP = {
  lora: { label: 'LoRA', color: 'violet', icon: IconSparkles, hint: "The character's own trained LoRA shapes every image." },
  faceswap: { label: 'Face swap', color: 'blue', icon: IconFaceId, hint: "The character's best reference face is swapped into each image." },
  plain: { label: 'Plain', color: 'gray', icon: IconPhoto, hint: 'No identity conditioning: the prompt alone.' },
} as const satisfies Record<string, MethodInfo>;

export type GenerationMethod = keyof typeof GENERATION_METHOD_MAP;
export const GENERATION_METHODS = Object.keys(GENERATION_METHOD_MAP) as GenerationMethod[];

export function generationMethod(method: string): MethodInfo {
  return (GENERATION_METHOD_MAP as Record<string, MethodInfo>)[method] ?? { label: method, color: 'gray', icon: IconHelp, hint: '' };
}

/** A generated image's identity verdict: scored and matched, scored below the threshold, or not scored. */
export type IdentityVerdict = 'match' | 'no_match' | 'unscored';

const IDENTITY_VERDICT_MAP = {
  match: { label: 'Match', color: 'green', icon: IconFaceId },
  no_match: { label: 'No match', color: 'red', icon: IconFaceIdError },
  unscored: { label: 'Not scored', color: 'gray', icon: IconHelp },
} as const satisfies Record<IdentityVerdict, { label: string; color: string; icon: Icon }>;

export function identityVerdict(identity: { scored: boolean; match: boolean | null }): { verdict: IdentityVerdict; label: string; color: string; icon: Icon } {
  const verdict: IdentityVerdict = !identity.scored || identity.match === null ? 'unscored' : identity.match ? 'match' : 'no_match';
  return { verdict, ...IDENTITY_VERDICT_MAP[verdict] };
}
