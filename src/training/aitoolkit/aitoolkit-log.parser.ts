/**
 * Reads what AI Toolkit's CLI (`python run.py <config>`, ostris/ai-toolkit 27a03a9) writes to its
 * stdout and stderr, merged into one log file. Pure: text in, facts out.
 *
 * What the trainer prints, and where (checked in run.py, jobs/BaseJob.py, jobs/process/
 * BaseProcess.py, jobs/process/BaseSDTrainProcess.py, toolkit/progress_bar.py):
 * - the progress bar is tqdm (ToolkitProgressBar, desc = the job name) on stderr, redrawn in place
 *   with "\r", no newline until it closes:
 *   `<job>:  25%|██▌       | 250/1000 [05:00<15:00,  1.20s/it, lr: 1.0e-04 loss: 4.123e-01]`
 *   (`?it/s` before the first step; `3.04it/s` when faster than 1 step/s, else `1.30s/it`);
 * - other tqdm bars share the stream (checkpoint shards, latent caching, the sampler's steps):
 *   only a bar whose description is the job name is training progress;
 * - `Saving at step N`, `Saved checkpoint to <path>`, `Generating baseline samples before training`;
 * - on an exception run.py prints `Error running job: <e>` and a `Result:` block, then re-raises:
 *   the traceback's last line is `<type>: <message>` and the exit status is 1;
 * - on SIGINT it prints a block with `Job stopped` and exits 0 (older run.py re-raised, ending
 *   the log with a `KeyboardInterrupt` traceback).
 */
import type { TrainingProgress } from '../training-backend.js';

export interface AitkLogReading {
  /** The last training progress line, if any was printed. */
  progress: Pick<TrainingProgress, 'step' | 'totalSteps' | 'secondsPerStep' | 'loss'> | null;
  /** "Training" while the bar was drawn last, else the last plain line ("Saving at step 500"). */
  message: string | undefined;
  /** The last line worth showing a person (no bars, no config dump, no banners). */
  lastLine: string | undefined;
  /** The exception that ended the run: the last traceback's `Type: message`, else `Error running job:`'s text. */
  error: string | undefined;
  /** The trainer handled a SIGINT and stopped. */
  stopped: boolean;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const ANY_BAR = /\d+%\|.*\|\s*\d+\/\d+\s*\[/;
const MAX_LINE = 300;

/** The bar, and what was printed right after it: the bar ends without a newline, so the next print lands on its line. */
function parseBar(line: string, barPrefix: RegExp): { progress: NonNullable<AitkLogReading['progress']>; rest: string } | null {
  const m = barPrefix.exec(line);
  if (!m) return null;
  const step = Number(m[1]);
  const totalSteps = Number(m[2]);
  const inside = m[3] ?? '';
  const progress: NonNullable<AitkLogReading['progress']> = { step, totalSteps };
  const rate = /(?:^|,\s*)([\d.]+)(it\/s|s\/it)/.exec(inside);
  if (rate) {
    const value = Number(rate[1]);
    if (value > 0) progress.secondsPerStep = rate[2] === 's/it' ? value : 1 / value;
  }
  const loss = /(?:^|[\s,])loss: ([-+]?(?:\d+(?:\.\d*)?(?:e[-+]?\d+)?|nan|inf))/i.exec(inside);
  if (loss) {
    const value = Number(loss[1]);
    if (Number.isFinite(value)) progress.loss = value;
  }
  return { progress, rest: line.slice(m[0].length) };
}

/** Lines a person learns nothing from: the config's JSON dump, banners, blank lines, other bars. */
function isNoise(line: string): boolean {
  if (line.trim() === '') return true;
  if (/^\s/.test(line) || /^[{}[\]"]/.test(line)) return true;
  if (/^[#=*-]{4,}$/.test(line) || /^#\s/.test(line)) return true;
  return ANY_BAR.test(line);
}

function exceptionLine(lines: string[]): string | undefined {
  let start = -1;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i]!.startsWith('Traceback (most recent call last):')) {
      start = i;
      break;
    }
  }
  if (start < 0) return undefined;
  // Frames are indented ("  File ...", source lines, carets); the first flush-left line after
  // them is the exception itself.
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '' || /^\s/.test(line)) continue;
    return line.trim();
  }
  return undefined;
}

export function readAitkLog(text: string, jobName: string): AitkLogReading {
  // "\r" redraws the bar in place: in a file every redraw is its own segment.
  const lines = text.split(/\r\n|\r|\n/);
  const barPrefix = new RegExp(`^${escapeRegExp(jobName)}:\\s+\\d+%\\|[^|]*\\|\\s*(\\d+)\\/(\\d+)\\s+\\[([^\\]]*)\\]`);
  let progress: AitkLogReading['progress'] = null;
  let progressAt = -1;
  let lastLine: string | undefined;
  let lastLineAt = -1;
  let errorRunning: string | undefined;
  let stopped = false;
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.replace(/\s+$/, '');
    const bar = parseBar(line, barPrefix);
    if (bar) {
      progress = bar.progress;
      progressAt = i;
      if (!bar.rest) continue;
      // e.g. "Error running job: ..." printed while the bar was still on screen.
      line = bar.rest;
      lines[i] = line;
    }
    if (line === 'Job stopped') stopped = true;
    const err = /^Error running job: (.*)$/.exec(line);
    if (err) errorRunning = err[1]!.trim() || undefined;
    if (!isNoise(line) && !/^(Result:|Job stopped)$/.test(line)) {
      lastLine = line.length > MAX_LINE ? `${line.slice(0, MAX_LINE - 1)}…` : line;
      lastLineAt = i;
    }
  }
  let error = exceptionLine(lines.map((l) => l.replace(/\s+$/, '')));
  if (error && /^KeyboardInterrupt\b/.test(error)) {
    stopped = true;
    error = undefined;
  }
  error ??= errorRunning;
  if (error && error.length > MAX_LINE) error = `${error.slice(0, MAX_LINE - 1)}…`;
  const message = progress && progressAt > lastLineAt ? 'Training' : lastLine;
  return { progress, message, lastLine, error, stopped };
}
