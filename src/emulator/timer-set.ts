/**
 * Every timer the emulator starts goes through a TimerSet, so `close()` can stop all of them at once
 * and nothing keeps firing into a closed server (the emulator is started and stopped many times
 * inside one test process).
 *
 * Sets form a tree: a pod or an AI Toolkit install owns a child set it clears when it goes down,
 * and the root set clears every child.
 */
export class TimerSet {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly children = new Set<TimerSet>();
  private closed = false;

  constructor(private readonly parent?: TimerSet) {}

  /** Runs `fn` once after `ms`. Returns a cancel function. No-op once the set is cleared for good. */
  after(ms: number, fn: () => void): () => void {
    if (this.closed) return () => {};
    const handle = setTimeout(() => {
      this.timers.delete(handle);
      fn();
    }, Math.max(0, ms));
    this.timers.add(handle);
    return () => {
      clearTimeout(handle);
      this.timers.delete(handle);
    };
  }

  /** A child set whose timers are also cleared when this set is closed. */
  child(): TimerSet {
    const child = new TimerSet(this);
    if (this.closed) child.close();
    else this.children.add(child);
    return child;
  }

  /** Cancels the pending timers but keeps the set usable (a pod that restarts keeps its set). */
  clear(): void {
    for (const handle of this.timers) clearTimeout(handle);
    this.timers.clear();
    for (const child of this.children) child.clear();
  }

  /** Cancels everything and refuses new timers from now on. */
  close(): void {
    this.closed = true;
    this.clear();
    for (const child of this.children) child.close();
    this.children.clear();
    this.parent?.children.delete(this);
  }

  get pending(): number {
    let n = this.timers.size;
    for (const child of this.children) n += child.pending;
    return n;
  }
}
