/**
 * Options a connect-redis user brings along, and typos: mapped when they mean something here,
 * rejected with a TypeError that names the equivalent otherwise. No Redis needed: the client never connects.
 */
import { Redis } from 'ioredis';
import { LiveSessionStore } from '../src';

const client = new Redis({ lazyConnect: true });
afterAll(() => client.disconnect());

const store = (options: Record<string, unknown>) => new LiveSessionStore({ client, ...options } as never);
const thrown = (options: Record<string, unknown>): Error => {
  try {
    store(options);
  } catch (err) {
    return err as Error;
  }
  throw new Error(`expected ${JSON.stringify(options)} to be rejected`);
};

describe("connect-redis's options", () => {
  it('maps ttl (seconds) to lifetime (ms), and keeps only resolved options in store.options', () => {
    const { options } = store({ ttl: 600, prefix: 'sess:', scanCount: 50 });
    expect(options.lifetime).toBe(600_000);
    expect(options.prefix).toBe('sess:');
    expect(options.scanCount).toBe(50);
    expect(Object.keys(options).sort()).toEqual(['cache', 'client', 'describe', 'eventShards', 'events', 'eventsPrefix', 'indexPrefix', 'lifetime', 'maxBytes', 'maxMessageBytes', 'prefix', 'publish', 'scanCount', 'timeout', 'touchAfter', 'touchGrace', 'updateAttempts', 'userOf']);
  });

  it('rejects ttl as a function, naming what sets the expiry here', () => {
    const err = thrown({ ttl: () => 60 });
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(/"ttl" as a function/);
    expect(err.message).toMatch(/cookie\.maxAge/);
  });

  it('rejects ttl together with lifetime, and a ttl that is not a whole number of seconds', () => {
    expect(thrown({ ttl: 60, lifetime: 60_000 }).message).toMatch(/give only "lifetime"/);
    expect(thrown({ ttl: 0 }).message).toMatch(/"ttl" must be a whole number >= 1/);
    expect(thrown({ ttl: '60' }).message).toMatch(/"ttl" must be a whole number/);
  });

  it('accepts disableTouch / disableTTL false (connect-redis default) and rejects true with the equivalent', () => {
    expect(() => store({ disableTouch: false, disableTTL: false })).not.toThrow();
    const touch = thrown({ disableTouch: true });
    expect(touch).toBeInstanceOf(TypeError);
    expect(touch.message).toMatch(/set "touchAfter"/);
    const ttl = thrown({ disableTTL: true });
    expect(ttl).toBeInstanceOf(TypeError);
    expect(ttl.message).toMatch(/never keeps a session without an expiry/);
    expect(ttl.message).toMatch(/"lifetime"/);
  });

  it('rejects a custom serializer: values are stored as JSON per key', () => {
    const err = thrown({ serializer: { parse: JSON.parse, stringify: JSON.stringify } });
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(/stored as JSON, one hash field per top-level key/);
    expect(err.message).toMatch(/custom serializer cannot be read/);
    expect(() => store({ serializer: JSON })).not.toThrow();
  });
});

describe('unknown options', () => {
  it.each([
    ['lifeTime', 'lifetime'],
    ['prefx', 'prefix'],
    ['scan_count', 'scanCount'],
    ['timeOut', 'timeout'],
    ['disableTtl', 'disableTTL'],
  ])('rejects %s, suggesting %s', (name, suggestion) => {
    const err = thrown({ [name]: 1 });
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toContain(`no option "${name}"; did you mean "${suggestion}"?`);
  });

  it('rejects an option that looks like none, listing the options', () => {
    const err = thrown({ colour: 'blue' });
    expect(err.message).not.toMatch(/did you mean/);
    expect(err.message).toMatch(/Options: client, prefix, lifetime/);
  });

  it('rejects an unknown option even when undefined (a typo is a typo)', () => {
    expect(thrown({ lifeTime: undefined }).message).toMatch(/did you mean "lifetime"/);
  });
});
