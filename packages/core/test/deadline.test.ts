import { Deadlines } from '../src/deadline';

const never = () => new Promise<never>(() => undefined);
const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(resolve, ms, value));
const errors = {
  timedOut: (what: string) => new Error(`${what} timed out`),
  failed: (what: string, err: unknown) => new Error(`${what} failed: ${(err as Error).message}`),
};

describe('Deadlines: one timer for every call', () => {
  it('rejects each call that does not settle in time, in the order they started, and leaves the others alone', async () => {
    const deadlines = new Deadlines(100, errors);
    const started = performance.now();
    const settledAt = (err: Error) => [err.message, performance.now() - started] as const;
    const first = deadlines.run('first', never()).catch(settledAt);
    await later(40, null);
    const fast = deadlines.run('fast', later(10, 'fast'));
    const second = deadlines.run('second', never()).catch(settledAt);
    const slowButInTime = deadlines.run('slow', later(80, 'in time'), (value) => `${value}, mapped`);

    expect(await fast).toBe('fast');
    expect(await slowButInTime).toBe('in time, mapped');
    const [[firstMessage, firstAt], [secondMessage, secondAt]] = await Promise.all([first, second]);
    expect([firstMessage, secondMessage]).toEqual(['first timed out', 'second timed out']);
    // Each one after its own 100 ms, not all at the first deadline.
    expect(firstAt).toBeGreaterThanOrEqual(99);
    expect(secondAt).toBeGreaterThanOrEqual(139);
  });

  it('keeps timing out the others when a call that timed out settles afterwards', async () => {
    const deadlines = new Deadlines(50, errors);
    const late = deadlines.run('late', later(80, 'too late')).catch((err: Error) => err.message);
    await later(20, null);
    const stuck = deadlines.run('stuck', never()).catch((err: Error) => err.message);
    await later(30, null);
    const stuckToo = deadlines.run('stuck too', never()).catch((err: Error) => err.message);
    expect(await late).toBe('late timed out');
    expect(await Promise.all([stuck, stuckToo])).toEqual(['stuck timed out', 'stuck too timed out']);
  });

  it('passes a failure through errors.failed, and what `then` throws as it is', async () => {
    const deadlines = new Deadlines(1000, errors);
    await expect(deadlines.run('boom', Promise.reject(new Error('no')))).rejects.toThrow('boom failed: no');
    const thrown = new Error('bad reply');
    await expect(
      deadlines.run('map', Promise.resolve(1), () => {
        throw thrown;
      }),
    ).rejects.toBe(thrown);
  });
});
