/**
 * Bounds how long each Redis call may take, with one timer for all of them.
 *
 * Every call gets the same timeout, so the calls' deadlines come in the order the calls started:
 * a Set (which iterates in insertion order) is a queue sorted by deadline, and only its head needs
 * a timer. A timer per call (setTimeout + clearTimeout) cost more than the rest of a session read.
 */
interface Pending {
  deadline: number;
  reject: (err: Error) => void;
  onTimeout: () => Error;
}

export class Deadlines {
  private readonly pending = new Set<Pending>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly timeout: number) {}

  /**
   * Settles as `operation` does (its error passed through `onError`), or rejects with `onTimeout()`
   * when it has not settled within the timeout.
   */
  run<T>(operation: Promise<T>, onTimeout: () => Error, onError: (err: unknown) => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { deadline: performance.now() + this.timeout, reject, onTimeout };
      this.pending.add(entry);
      if (this.timer === undefined) this.arm(entry.deadline);
      operation.then(
        (value) => {
          this.pending.delete(entry);
          resolve(value);
        },
        (err: unknown) => {
          this.pending.delete(entry);
          reject(onError(err));
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
    for (const entry of this.pending) {
      if (entry.deadline > now) {
        this.arm(entry.deadline);
        return;
      }
      this.pending.delete(entry);
      entry.reject(entry.onTimeout());
    }
  }
}
