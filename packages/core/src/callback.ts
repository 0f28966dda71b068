/** Lets one promise-returning method also serve the callbacks express-session passes. */
export type Callback<T> = (err: any, result?: T) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * With a callback, calls it (outside the promise chain, so a throwing callback is not swallowed)
 * and returns a promise that never rejects: express-session ignores it, and an unhandled
 * rejection would take the process down. Without one, returns the promise as it is.
 */
export function withCallback<T>(promise: Promise<T>, callback?: Callback<T>): Promise<T> {
  if (!callback) return promise;
  return promise.then(
    (result) => {
      process.nextTick(callback, null, result);
      return result;
    },
    (err: unknown) => {
      process.nextTick(callback, err);
      return undefined as T;
    },
  );
}
