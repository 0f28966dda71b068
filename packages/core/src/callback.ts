/** Lets one promise-returning method also serve the callbacks express-session passes. */
export type Callback<T> = (err: any, result?: T) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * With a callback, calls it and returns a promise that never rejects: express-session ignores it,
 * and an unhandled rejection would take the process down. A callback that throws is not swallowed
 * by the promise: its error is rethrown on the next tick, as a callback library would let it escape.
 * Without a callback, returns the promise as it is.
 */
export function withCallback<T>(promise: Promise<T>, callback?: Callback<T>): Promise<T> {
  if (!callback) return promise;
  return promise.then(
    (result) => {
      invokeCallback(callback, null, result);
      return result;
    },
    (err: unknown) => {
      invokeCallback(callback, err);
      return undefined as T;
    },
  );
}

/** Calls back; what the callback throws escapes on the next tick instead of into a promise. */
export function invokeCallback<T>(callback: Callback<T>, err: unknown, result?: T): void {
  try {
    callback(err, result);
  } catch (thrown) {
    process.nextTick(() => {
      throw thrown;
    });
  }
}
