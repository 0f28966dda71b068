/**
 * Bounds how long each Redis call may take, with one timer for all of them.
 *
 * Every call gets the same timeout, so the calls' deadlines come in the order the calls started:
 * a linked list in that order is a queue sorted by deadline, and only its head needs a timer.
 * A timer per call (setTimeout + clearTimeout) cost more than the rest of a session read; a Set of
 * pending calls cost even more, in garbage collection (its table kept whole requests alive into
 * the old generation: a full mark-compact every half second under load).
 */
interface Pending {
  deadline: number;
  what: string;
  reject: (err: Error) => void;
  prev: Pending | undefined;
  next: Pending | undefined;
}

export interface DeadlineErrors {
  /** The error of a call named `what` that did not settle in time. */
  timedOut(what: string): Error;
  /** The error of a call named `what` that failed with `err`. */
  failed(what: string, err: unknown): Error;
}

export class Deadlines {
  /** The pending calls, oldest (first to expire) first. */
  private head: Pending | undefined;
  private tail: Pending | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly timeout: number,
    private readonly errors: DeadlineErrors,
  ) {}

  /**
   * Settles as `operation` does, its value passed through `then` (in the same step: the read path
   * counts its promise hops), or rejects with `timedOut(what)` when it has not settled in time.
   */
  run<T, R = T>(what: string, operation: Promise<T>, then?: (value: T) => R | Promise<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const entry: Pending = { deadline: performance.now() + this.timeout, what, reject, prev: this.tail, next: undefined };
      if (this.tail) this.tail.next = entry;
      else this.head = entry;
      this.tail = entry;
      if (this.timer === undefined) this.arm(entry.deadline);
      operation.then(
        (value) => {
          this.unlink(entry);
          try {
            resolve(then ? then(value) : (value as unknown as R));
          } catch (err) {
            reject(err);
          }
        },
        (err: unknown) => {
          this.unlink(entry);
          reject(this.errors.failed(what, err));
        },
      );
    });
  }

  private arm(at: number): void {
    this.timer = setTimeout(() => this.expire(), Math.max(0, at - performance.now()) + 1);
    // Pending calls keep the process alive through their sockets, not through this timer.
    this.timer.unref();
  }

  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    for (let entry = this.head; entry; entry = this.head) {
      if (entry.deadline > now) {
        this.arm(entry.deadline);
        return;
      }
      this.unlink(entry);
      entry.reject(this.errors.timedOut(entry.what));
    }
  }

  private unlink(entry: Pending): void {
    if (entry.prev === undefined && this.head !== entry) return; // already out (it timed out, then settled)
    if (entry.prev) entry.prev.next = entry.next;
    else this.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.tail = entry.prev;
    entry.prev = entry.next = undefined;
  }
}
