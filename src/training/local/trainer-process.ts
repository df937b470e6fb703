/**
 * Knowing whether a trainer process recorded earlier is still the same process, across restarts
 * of Likeness, and signalling it safely.
 *
 * A pid alone is not an identity: after the trainer exits, the kernel may give its pid to any
 * other process, and signalling that one (worse, its whole process group) would be a bug with
 * victims. On Linux the pair (pid, start time in clock ticks since boot, /proc/<pid>/stat field
 * 22) is unique until the next reboot, and /proc/sys/kernel/random/boot_id tells reboots apart.
 * Elsewhere (macOS development machines) only "a process with this pid exists" can be checked,
 * and the boot id is derived from the uptime, to the minute.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';

export interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks since boot (Linux); null where it cannot be read. */
  startTicks: string | null;
  bootId: string;
}

export async function currentBootId(): Promise<string> {
  try {
    return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  } catch {
    return `uptime-boot@${Math.round((Date.now() / 1000 - os.uptime()) / 60)}`;
  }
}

interface ProcStat {
  state: string;
  startTicks: string;
}

async function procStat(pid: number): Promise<ProcStat | null | 'unsupported'> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      // No /proc at all (not Linux) vs. no such process.
      try {
        await readFile('/proc/self/stat', 'utf8');
        return null;
      } catch {
        return 'unsupported';
      }
    }
    return null;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTicks = fields[19];
  if (!state || !startTicks) return null;
  return { state, startTicks };
}

/** Reads the identity of a process that was just started; startTicks is null if it is already gone. */
export async function identify(pid: number): Promise<ProcessIdentity> {
  const stat = await procStat(pid);
  return { pid, startTicks: stat && stat !== 'unsupported' ? stat.startTicks : null, bootId: await currentBootId() };
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    // ESRCH: gone. EPERM: it exists but belongs to another user, so it is not our trainer.
    return false;
  }
}

/**
 * True while the recorded process still runs. A zombie (exited, not yet reaped) counts as gone.
 * A different boot, or another start time, means the pid now belongs to someone else.
 */
export async function isAlive(id: ProcessIdentity): Promise<boolean> {
  if (id.bootId !== (await currentBootId())) return false;
  const stat = await procStat(id.pid);
  if (stat === 'unsupported') return pidExists(id.pid);
  if (!stat || stat.state === 'Z' || stat.state === 'X') return false;
  return id.startTicks !== null && stat.startTicks === id.startTicks;
}

/** Sends `signal` to the process (or its whole group, for a leader started detached) if it is still ours. */
export async function signalIfAlive(id: ProcessIdentity, signal: NodeJS.Signals, group: boolean): Promise<boolean> {
  if (!(await isAlive(id))) return false;
  try {
    process.kill(group ? -id.pid : id.pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** Waits until the process is gone, polling; false if it still runs after `timeoutMs`. */
export async function waitForExit(id: ProcessIdentity, timeoutMs: number, pollMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await isAlive(id))) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
