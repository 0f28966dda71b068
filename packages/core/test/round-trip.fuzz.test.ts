/**
 * Fuzz test of the store's round trip: for seeded random sessions, what `get` returns after `set`
 * is exactly `JSON.parse(JSON.stringify(session))`, through the replace path (a plain object), the
 * per-key patch path (a session loaded through get's callback and createSession, as
 * express-session does) and putSession. Deterministic: a failure names its seed and case.
 */
import { seededRandom, startRedis, type TestRedis } from '@live-session/test-support';
import type { IncomingMessage } from 'node:http';
import { LiveSessionStore } from '../src';
import { expressCookie, Resources } from './helpers';

const SEED = Number(process.env.FUZZ_SEED ?? 20261126);
const CASES = Number(process.env.FUZZ_CASES ?? 300);
const HOUR = 60 * 60 * 1000;

let redis: TestRedis;
const resources = new Resources();
let store: LiveSessionStore;
/** The same sessions through a client that auto-pipelines: its reads are plain HGETALLs (store.ts, plainReads). */
let batching: LiveSessionStore;

beforeAll(async () => {
  redis = await startRedis();
  resources.add(redis, (r) => r.close());
  store = new LiveSessionStore({ client: resources.redis(redis), prefix: 'fuzz:', timeout: 30_000 });
  batching = new LiveSessionStore({ client: resources.redis(redis, { enableAutoPipelining: true }), prefix: 'fuzz:', timeout: 30_000 });
});
afterAll(() => resources.closeAll());

type Dict = Record<string, unknown>;

class Generator {
  constructor(private readonly next: () => number) {}

  int(max: number): number {
    return Math.floor(this.next() * max);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Strings with what breaks encoders: quotes, escapes, NUL, U+2028, astral characters, lone surrogates. */
  string(): string {
    const pieces = ['a', 'Z', ' ', '"', '\\', '/', '\n', '\u0000', '\u001f', '\u007f', 'é', 'ß', 'ключ', '中文', '\u2028', '\u2029', '😀', '\ud800', '\udc00', '\ufffd', '$', '{', '}', ':', ','];
    let text = '';
    for (let n = this.int(8); n > 0; n--) text += this.pick(pieces);
    return text;
  }

  /** Keys: ordinary, '$'-prefixed (the metadata namespace), prototype names, unicode, lone surrogates, empty, numeric. */
  key(): string {
    const special = ['$v', '$c', '$t', '$u', '$', '$$', '$$x', '$"x"', '$"', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', '', '0', '42', '-1', '1.5', '\ud800', '\udc00', 'a\ud83d', '\ufffd', '😀', 'cookie ', 'Cookie'];
    if (this.chance(0.4)) return this.pick(special);
    return this.chance(0.5) ? `k${this.int(30)}` : this.string();
  }

  number(): number {
    return this.pick([0, -0, 1, -1, 0.1, 1e21, 1e-7, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity, -Infinity, this.next() * 1e6 - 5e5]);
  }

  value(depth: number): unknown {
    const leaf = depth <= 0 || this.chance(0.45);
    if (leaf) {
      switch (this.int(12)) {
        case 0: return null;
        case 1: return this.chance(0.5);
        case 2: case 3: return this.number();
        case 4: case 5: return this.string();
        case 6: return undefined;
        case 7: return this.chance(0.5) ? () => 'fn' : Symbol('s');
        case 8: return this.chance(0.8) ? new Date(1_700_000_000_000 + this.int(1e10)) : new Date(NaN);
        case 9: return this.pick([new Number(3), new String('boxed'), new Boolean(false)]);
        case 10: return { toJSON: (key: string) => `toJSON(${JSON.stringify(key)})` };
        default: return { toJSON: () => undefined };
      }
    }
    switch (this.int(5)) {
      case 0: return this.array(depth, this.chance(0.1) ? 1000 + this.int(4000) : this.int(6));
      case 1: {
        const sparse = new Array<unknown>(this.int(10) + 1);
        sparse[this.int(sparse.length)] = this.value(depth - 1);
        return sparse;
      }
      case 2: {
        // Deep nesting: a chain of objects and arrays.
        let nested: unknown = this.value(0);
        for (let n = this.int(60); n > 0; n--) nested = this.chance(0.5) ? [nested] : { [this.key()]: nested };
        return nested;
      }
      case 3: return new Map([['a', 1]]);
      default: return this.object(depth);
    }
  }

  array(depth: number, length: number): unknown[] {
    return Array.from({ length }, () => (length > 100 ? this.int(1000) : this.value(depth - 1)));
  }

  object(depth: number): Dict {
    const object: Dict = {};
    for (let n = this.int(5); n > 0; n--) defineOwn(object, this.key(), this.value(depth - 1));
    return object;
  }

  cookie(): unknown {
    if (this.chance(0.4)) return expressCookie({ maxAge: this.pick([HOUR, 2 * HOUR, null]) as number, secure: this.chance(0.3), sameSite: this.pick([undefined, 'lax', 'strict']) });
    const cookie: Dict = { originalMaxAge: this.pick([null, HOUR]), expires: this.chance(0.5) ? null : new Date(Date.now() + HOUR).toISOString() };
    if (this.chance(0.5)) cookie.path = this.pick(['/', '/app', undefined]);
    if (this.chance(0.5)) cookie.httpOnly = this.pick([true, false]);
    if (this.chance(0.3)) defineOwn(cookie, this.key(), this.value(2)); // any extra key, own "__proto__" too
    return cookie;
  }

  /** A session: a cookie and some keys (never "id" or "req", which express-session's Session owns). */
  session(): Dict {
    const session: Dict = { cookie: this.cookie() };
    for (let n = this.int(12); n > 0; n--) {
      const key = this.key();
      if (key === 'cookie' || key === 'id' || key === 'req') continue;
      defineOwn(session, key, this.value(4));
    }
    return session;
  }
}

/** Sets a key as an own property, "__proto__" included. */
function defineOwn(object: object, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

/** JSON with sorted keys ("__proto__" as an own key too): equal values give equal texts. */
function canonical(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, _key: string, v: unknown) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const sorted: Dict = {};
    for (const key of Object.keys(v).sort()) defineOwn(sorted, key, (v as Dict)[key]);
    return sorted;
  });
}

/**
 * What `get` must give back: the JSON round trip, with the cookie's expiry (which the store derives
 * from the key's TTL) taken from `got` when it is within a few seconds of the expected one.
 */
function expectRoundTrip(got: unknown, session: object, where: string): void {
  const expected = JSON.parse(JSON.stringify(session)) as Dict;
  const actual = JSON.parse(JSON.stringify(got)) as Dict; // no undefined, the same Date forms
  const expectedCookie = expected.cookie as Dict | undefined;
  const actualCookie = actual.cookie as Dict | undefined;
  if (typeof expectedCookie?.expires === 'string' && typeof actualCookie?.expires === 'string') {
    if (Math.abs(Date.parse(expectedCookie.expires) - Date.parse(actualCookie.expires)) < 5000) actualCookie.expires = expectedCookie.expires;
  }
  if (canonical(actual) !== canonical(expected)) {
    throw new Error(`${where}: round trip differs\n expected ${canonical(expected).slice(0, 2000)}\n got      ${canonical(actual).slice(0, 2000)}`);
  }
  expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
}

/** A session loaded as express-session loads one: its save writes only the keys that changed. */
function load(from: LiveSessionStore, sid: string): Promise<Dict> {
  const req = { sessionID: sid } as unknown as IncomingMessage & { sessionID: string };
  return new Promise((resolve, reject) =>
    from.get(sid, (err, data) => {
      if (err || !data) return reject(err ?? new Error(`no session ${sid}`));
      resolve(from.createSession(req as never, data) as unknown as Dict);
    }),
  );
}

it(`round-trips ${CASES} seeded random sessions exactly as JSON does (seed ${SEED})`, async () => {
  const gen = new Generator(seededRandom(SEED));
  for (let i = 0; i < CASES; i++) {
    const where = `seed ${SEED}, case ${i}`;
    const sid = `case-${i}`;

    // Replace path: a plain object, no request.
    const first = gen.session();
    await store.set(sid, first as never);
    expectRoundTrip(await store.get(sid), first, `${where}, set`);
    expectRoundTrip(await batching.get(sid), first, `${where}, set, read by HGETALL`);

    // Patch path: loaded through get's callback (by either read), the keys of another session replace its own.
    const reader = i % 2 === 0 ? store : batching;
    const loaded = await load(reader, sid);
    const second = gen.session();
    for (const key of Object.keys(loaded)) if (key !== 'cookie') delete loaded[key];
    for (const key of Object.keys(second)) defineOwn(loaded, key, second[key]);
    await reader.set(sid, loaded as never);
    expectRoundTrip(await store.get(sid), loaded, `${where}, patch`);
    expectRoundTrip(await batching.get(sid), loaded, `${where}, patch, read by HGETALL`);

    // One key through the direct API.
    const key = gen.key();
    if (key === 'cookie') continue;
    const value = gen.value(3);
    const expected = JSON.parse(JSON.stringify(loaded)) as Dict;
    const json = JSON.stringify({ [key]: value });
    if (json === '{}') delete expected[key];
    else defineOwn(expected, key, (JSON.parse(json) as Dict)[key]);
    expectRoundTrip(await store.putSession(sid, key, value), expected, `${where}, putSession ${JSON.stringify(key)}`);
    await store.destroy(sid);
  }
  expect(({} as Dict).polluted).toBeUndefined();
  expect(Object.keys(Object.prototype)).toEqual([]);
}, 120_000);
