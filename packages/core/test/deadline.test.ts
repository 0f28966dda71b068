import { Deadlines } from '../src/deadline';

const never = () => new Promise<never>(() => undefined);
const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(resolve, ms, value));
const timeoutError = () => new Error('timed out');
const asIs = (err: unknown) => err as Error;

describe('Deadlines: one timer for every call', () => {
  it('rejects each call that does not settle in time, in the order they started, and leaves the others alone', async () => {
    const deadlines = new Deadlines(100);
    const started = performance.now();
    const first = deadlines.run(never(), () => new Error('first'), asIs).catch((err: Error) => [err.message, performance.now() - started]);
    await later(40, null);
    const fast = deadlines.run(later(10, 'fast'), timeoutError, asIs);
    const second = deadlines.run(never(), () => new Error('second'), asIs).catch((err: Error) => [err.message, performance.now() - started]);
    const slowButInTime = deadlines.run(later(80, 'in time'), timeoutError, asIs);

    expect(await fast).toBe('fast');
    expect(await slowButInTime).toBe('in time');
    const [[firstMessage, firstAt], [secondMessage, secondAt]] = (await Promise.all([first, second])) as [string, number][];
    expect([firstMessage, secondMessage]).toEqual(['first', 'second']);
    // Each one after its own 100 ms, not all at the first deadline.
    expect(firstAt).toBeGreaterThanOrEqual(99);
    expect(secondAt).toBeGreaterThanOrEqual(139);
  });

  it('passes a failure through onError', async () => {
    const deadlines = new Deadlines(1000);
    const failure = deadlines.run(Promise.reject(new Error('boom')), timeoutError, (err) => new Error(`wrapped: ${(err as Error).message}`));
    await expect(failure).rejects.toThrow('wrapped: boom');
  });
});
