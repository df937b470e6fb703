/**
 * The one place the UI spells a training run's status (and an image's check verdict): each maps
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
