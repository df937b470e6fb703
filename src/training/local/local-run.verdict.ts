/**
 * What became of a local AI Toolkit run whose process is no longer alive. Pure: the facts are
 * gathered by the backend (files on disk, the log, the exit status when this process saw it).
 *
 * The exit status is known only when the Likeness process that started the trainer saw it exit.
 * After a restart only the files remain, so the verdict never depends on it alone. Order matters:
 * 1. cancel was asked (marker file)                 -> cancelled, whatever the trainer managed;
 * 2. every final LoRA file is there                 -> completed (the final save precedes the final
 *    samples, so a crash while sampling still left a usable LoRA);
 * 3. the log ends in an exception                   -> failed with that exception's line;
 * 4. the machine rebooted since the launch          -> preempted: the trainer was killed by the
 *    reboot, not by its own fault, so a new attempt is the right answer (as for a lost pod);
 * 5. killed by a signal (seen by this process)      -> failed, naming it (SIGKILL: most often the
 *    kernel's out-of-memory killer);
 * 6. the trainer stopped on a SIGINT nobody here sent -> failed (someone stopped it by hand);
 * 7. anything else                                  -> failed with the last log line, like the UI's
 *    "Job process exited unexpectedly. Last log line: ...".
 */
import type { AitkLogReading } from '../aitoolkit/aitoolkit-log.parser.js';

export interface EndedRunFacts {
  cancelRequested: boolean;
  finalFilesPresent: boolean;
  sameBoot: boolean;
  /** Recorded by the Likeness process that spawned the trainer, if it saw the exit. */
  exit: { code: number | null; signal: string | null } | null;
  log: AitkLogReading;
}

export type EndedRunVerdict =
  | { state: 'completed' }
  | { state: 'cancelled' }
  | { state: 'preempted'; reason: string }
  | { state: 'failed'; error: string };

export function judgeEndedRun(f: EndedRunFacts): EndedRunVerdict {
  if (f.cancelRequested) return { state: 'cancelled' };
  if (f.finalFilesPresent) return { state: 'completed' };
  if (f.log.error) return { state: 'failed', error: `AI Toolkit failed: ${f.log.error}` };
  if (!f.sameBoot) return { state: 'preempted', reason: 'The machine restarted while AI Toolkit was training.' };
  const last = f.log.lastLine ? ` Last log line: ${f.log.lastLine}` : ' Its log is empty.';
  if (f.exit?.signal) {
    const hint = f.exit.signal === 'SIGKILL' ? ' (often the out-of-memory killer)' : '';
    return { state: 'failed', error: `AI Toolkit was killed by ${f.exit.signal}${hint}.${last}` };
  }
  if (f.log.stopped) return { state: 'failed', error: 'AI Toolkit was stopped outside Likeness (SIGINT) before it finished.' };
  if (f.exit && f.exit.code !== null && f.exit.code !== 0) {
    return { state: 'failed', error: `AI Toolkit exited with status ${f.exit.code}.${last}` };
  }
  return { state: 'failed', error: `AI Toolkit exited without writing the final LoRA.${last}` };
}
