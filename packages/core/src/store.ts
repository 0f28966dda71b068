/**
 * LiveSessionStore: an express-session store keeping each session in one Redis hash, writing
 * only what a request changed, and publishing every change on the session's channel.
 */
import session from 'express-session';
import type { IncomingMessage } from 'node:http';
import { ReadCache } from './cache';
import { type Callback, invokeCallback, withCallback } from './callback';
import { decodeCookie, sameCookieAttributes } from './cookie';
import { Deadlines } from './deadline';
import { LiveSessionError } from './errors';
import type { DestroyReason } from './message';
import {
  COOKIE_FIELD,
  decodeHash,
  decodeSession,
  decodeSessionDocument,
  decodeWrittenSession,
  encodeStoredCookie,
  encodeValue,
  fieldOf,
  type LoadedSession,
  LONE_SURROGATE,
  requestSnapshot,
  VERSION_FIELD,
  type SessionRecord,
} from './fields';
import { checkArguments } from './limits';
import { type CookieExpiry, expiryOf, expiryTime, planSave, refreshFields, type Snapshot } from './save-plan';
import { type LiveSessionStoreOptions, type ResolvedOptions, resolveOptions } from './options';
import { scanKeys } from './keyspace';
import { type LegacyHost, migrate, retryAfterMigrating, withMigration } from './legacy';
import { connectionOf, flatPairs, isWrongType, type BatchReply, type RedisClient, type RedisConnection } from './redis';
import { type FollowedSession, SessionReplica } from './replica';
import { SCRIPTS } from './scripts';
import { checkUser, indexRequestOf, ownerInHash, unwrapIndexed, UserIndex, type UserSession, type WriteIndex } from './user-index';
import { EventRecorder } from './events/recorder';

type SessionData = session.SessionData;

/** A session as the direct API reads it: its data, and the version of its last published change. */
export interface SessionState {
  session: SessionData;
  /** Grows by one with every published change; the `version` of change messages. */
  version: number;
  /** Creation time, ms since the epoch. */
  createdAt: number;
  /** When Redis will drop the session unless it is read or written again, ms since the epoch. */
  expiresAt: number | null;
}

/** PEXPIREAT ms, PEXPIRE ms, or (writes outside a request) by the stored refresh interval. */
type Expiry = CookieExpiry | { kind: 'keep'; ms: 0 };
/** The reply of lua/get.lua: a JSON text (see fields.ts), or null when there is no session. */
type GetReply = string | null;
type WriteResult = { status: 'ok'; loaded?: LoadedSession; owner?: string | null } | { status: 'gone' } | { status: 'conflict' };

const MAX_SID_LENGTH = 512;
/** The calls that write: a timeout does not mean they were not applied. */
const WRITES: ReadonlySet<string> = new Set(['write', 'destroy', 'clear']);

export class LiveSessionStore extends session.Store {
  readonly options: Readonly<ResolvedOptions>;
  /** The client the app gave. */
  readonly client: RedisClient;
  /** What the store (and @live-session/socket.io) ask of that client, whichever library it is. */
  readonly redis: RedisConnection;
  private readonly deadlines: Deadlines;
  /** What moving a connect-redis session to the hash layout needs (src/legacy.ts). */
  private readonly legacy: LegacyHost;
  /**
   * What a request loaded, kept on the request under this symbol (express-session's Session carries
   * `req`) for its save to compare against. A WeakMap did the same at a measurable cost in garbage
   * collection, once per request.
   */
  private readonly snapshotSlot = Symbol('live-session snapshot');
  /** The session get() is handing to its callback, from which express-session calls createSession. */
  private handingOver: LoadedSession | undefined;
  /** The index of each user's sessions: only with the `userOf` option (see user-index.ts). */
  private readonly index: UserIndex | undefined;
  /**
   * How a request reads its session. A client that batches (redis/client.ts): one plain HGETALL,
   * the touch at the end of the request a plain PEXPIREAT (Redis's cheapest, measured in bench/).
   * One that does not (ioredis without auto-pipelining): the get script, which refreshes the
   * lifetime in the same round trip (one system call each way instead of two, and less Node CPU).
   * With a user index, always the script, which keeps the index's deadline.
   */
  private readonly plainReads: boolean;
  /** The sessions this process follows (replica/): made on first use, by the cache or a live transport. */
  private followed: SessionReplica | undefined;
  /** Reads from memory (the `cache` option; cache.ts). */
  private readonly cache: ReadCache | undefined;
  /** Ends the cache's use of the replica (close()). */
  private readonly detachCache: (() => void) | undefined;
  /** Records each session's lifecycle for watchSessions: only with the `events` option (see events/recorder.ts). */
  private readonly events: EventRecorder | undefined;

  constructor(options: LiveSessionStoreOptions) {
    super();
    if (!options || typeof options !== 'object') throw new TypeError('new LiveSessionStore(options) needs { client }');
    this.redis = connectionOf(options.client);
    this.redis.define(Object.values(SCRIPTS));
    this.options = resolveOptions(options, this.redis.isCluster);
    this.client = this.options.client;
    const { timeout } = this.options;
    this.deadlines = new Deadlines(timeout, {
      timedOut: (what) =>
        new LiveSessionError(
          'ERR_LIVE_SESSION_TIMEOUT',
          `Redis did not answer "${what}" within ${timeout} ms (option "timeout"); is it running and reachable?` +
            (WRITES.has(what) ? ' The write may still be applied (sent later from the client\'s offline queue, or still running in Redis): read the session to know.' : ''),
        ),
      failed: redisError,
    });
    const { lifetime, publish, updateAttempts } = this.options;
    this.legacy = { redis: this.redis, lifetime, publish, attempts: updateAttempts, call: (what, operation) => this.call(what, operation) };
    const { userOf } = this.options;
    this.index = userOf && new UserIndex(this.redis, this.options, (what, operation) => this.call(what, operation), redisError, userOf);
    this.plainReads = !this.index && this.redis.batches;
    this.events = this.options.events ? new EventRecorder(this.redis, this.options, (what, operation) => this.call(what, operation)) : undefined;
    const { cache } = this.options;
    if (cache) {
      this.detachCache = this.replica.attach();
      this.cache = new ReadCache(this.replica, { ...cache, touchGrace: this.options.touchGrace }, { confirm: (session) => this.confirm(session) });
    }
  }

  /**
   * The sessions this process follows, kept true by their change messages over one subscriber
   * connection (opened with the first follow): what the cache serves reads from, and what
   * @live-session/socket.io (and any live transport) follows sessions through. See src/replica/.
   */
  get replica(): SessionReplica {
    return (this.followed ??= new SessionReplica({
      redis: this.redis,
      publish: this.options.publish,
      keyOf: (sid) => this.keyOf(sid),
      read: (sid) => this.readExact(sid),
      readMany: (sids) => this.readManyExact(sids),
      expiries: (sids) => this.getExpiries(sids),
      version: (sid) => this.versionOf(sid),
      touch: (sid) => this.touchSession(sid),
      call: (what, operation) => this.call(what, operation),
    }));
  }

  /**
   * Lets go of every followed session and closes the subscriber connection (the cache's, and the
   * live transports'). The app's Redis client stays open: close it after.
   */
  async close(): Promise<void> {
    this.cache?.close();
    this.detachCache?.();
    await this.followed?.close();
  }

  /** The Redis key of a session, which is also the name of its change channel. */
  keyOf(sid: string): string {
    return this.options.prefix + checkSid(sid);
  }

  // ---- express-session's Store interface (promises, or callbacks as express-session passes them)

  /**
   * With a callback (express-session's read of a request): the lifetime moves with the `touch` or
   * `set` that ends the request. As a promise (a read outside a request): refreshed as getSession.
   */
  override get(sid: string, callback?: Callback<SessionData | null>): Promise<SessionData | null> {
    if (!callback) return this.readRefreshed(sid).then(dataOf);
    const loading = this.read(sid);
    // express-session calls createSession(req, data) from inside this callback (when it loads a
    // session and in Session#reload): that is when what was read is handed over to the request. A
    // session loaded through the promise is saved whole, as other stores do.
    const handOver = (loaded: LoadedSession | null) => {
      this.handingOver = loaded ?? undefined;
      try {
        invokeCallback(callback, null, dataOf(loaded));
      } finally {
        this.handingOver = undefined;
      }
      return dataOf(loaded);
    };
    return loading.then(handOver, (failure: unknown) => {
      invokeCallback(callback, failure);
      return null;
    });
  }

  override createSession(req: IncomingMessage & { sessionID: string }, data: SessionData) {
    const loaded = this.handingOver;
    if (loaded && loaded.data === (data as unknown)) {
      const snapshot = requestSnapshot(loaded);
      const owner = this.index?.ownerRead(loaded);
      if (owner !== undefined) this.index!.rememberOwner(snapshot, owner);
      setSnapshot(req, this.snapshotSlot, snapshot);
    }
    // express-session cannot load a session without a cookie (the direct API may store one): it
    // gets express-session's default cookie, written at the end of the request.
    if (data.cookie === undefined) (data as { cookie: unknown }).cookie = {};
    return super.createSession(req as never, data);
  }

  override set(sid: string, data: SessionData, callback?: Callback<void>): Promise<void> {
    return withCallback(this.save(sid, data), callback);
  }

  override touch(sid: string, data: SessionData, callback?: Callback<void>): Promise<void> {
    return withCallback(this.refresh(sid, data), callback);
  }

  override destroy(sid: string, callback?: Callback<void>): Promise<void> {
    return withCallback(this.remove(sid, 'logout').then(() => undefined), callback);
  }

  /** Every session, keyed by id. Reading them does not refresh their lifetime. */
  override all(callback?: Callback<Record<string, SessionData>>): Promise<Record<string, SessionData>> {
    return withCallback(this.readAll(), callback);
  }

  override length(callback?: Callback<number>): Promise<number> {
    return withCallback(
      this.ids().then((ids) => ids.length),
      callback,
    );
  }

  /** Destroys every session under the prefix (each one publishes its destroy message). */
  override clear(callback?: Callback<void>): Promise<void> {
    return withCallback(this.removeAll(), callback);
  }

  /** The ids of every session under the prefix (SCAN, never KEYS). */
  ids(callback?: Callback<string[]>): Promise<string[]> {
    const prefix = this.options.prefix.length;
    return withCallback(
      this.keys().then((keys) => keys.map((key) => key.slice(prefix))),
      callback,
    );
  }

  // ---- The direct API: for code outside a request (jobs, sockets). None of it re-creates a session.

  /** Reads a session (refreshing its lifetime); null when there is none. */
  async getSession(sid: string): Promise<SessionData | null> {
    const loaded = await this.readRefreshed(sid);
    return loaded && asSessionData(loaded.data);
  }

  /** Reads a session with its version; null when there is none. */
  async getSessionState(sid: string): Promise<SessionState | null> {
    const loaded = await this.readRefreshed(sid);
    return loaded && toState(loaded);
  }

  /**
   * Reads many sessions at once (one pipelined round trip on a standalone Redis; concurrent
   * commands on a Cluster, whose pipelines cannot span slots). Missing sessions map to null.
   */
  async getSessionStates(sids: readonly string[]): Promise<Map<string, SessionState | null>> {
    const keys = sids.map((sid) => this.keyOf(sid));
    const cache = this.cache;
    if (cache) {
      // Those the cache holds from memory, the rest in one round trip.
      const hits = await Promise.all(sids.map((sid) => cache.peek(sid, true)));
      const rest = sids.filter((_, i) => hits[i] === undefined);
      const read = rest.length > 0 && rest.length < sids.length ? await this.readStates(rest, rest.map((sid) => this.keyOf(sid))) : undefined;
      if (rest.length < sids.length) {
        return new Map(sids.map((sid, i) => [sid, hits[i] !== undefined ? hits[i] && toState(hits[i]) : (read?.get(sid) ?? null)]));
      }
    }
    return this.readStates(sids, keys);
  }

  /** getSessionStates from Redis: the get script of each session, in one round trip. */
  private async readStates(sids: readonly string[], keys: readonly string[]): Promise<Map<string, SessionState | null>> {
    // With a user index, these reads keep its deadline too (user-index.ts).
    const args = this.index ? ['document', '?'] : [];
    const results = await this.call('get', () => this.redis.batch(keys.map((key) => ({ key, script: SCRIPTS.get, args }))));
    const index = this.index;
    const loaded = await Promise.all(
      sids.map((sid, i) => {
        const [err, reply] = results[i];
        if (!err) return this.decode(sid, index ? (unwrapIndexed(sid, keys[i], reply, index)?.text ?? null) : (reply as GetReply));
        // A connect-redis session: migrated, then read alone.
        if (isWrongType(err)) return this.migrated(sid, err, () => this.readScript(sid));
        throw redisError('get', err);
      }),
    );
    return new Map(sids.map((sid, i) => [sid, loaded[i] && toState(loaded[i])]));
  }

  /**
   * Sets one key and returns the updated session. Rejects with ERR_LIVE_SESSION_NOT_FOUND, writing
   * nothing, when the session does not exist (destroyed, expired, never created).
   */
  async putSession(sid: string, key: string, value: unknown): Promise<SessionData> {
    const state = await this.putSessionState(sid, key, value);
    return state.session;
  }

  /** putSession, returning the session with its version. */
  async putSessionState(sid: string, key: string, value: unknown): Promise<SessionState> {
    const field = fieldOf(checkKey(key));
    const stored = encodeValue(sid, key, value);
    const result = await this.write(sid, 'patch', this.autoExpiry(), stored === undefined ? [] : [[field, stored]], stored === undefined ? [field] : [], { wantSession: true });
    await this.followOwner(sid, result);
    return this.stateOf(sid, result);
  }

  /** Removes one key and returns the updated session (ERR_LIVE_SESSION_NOT_FOUND as putSession). */
  async deleteSessionKey(sid: string, key: string): Promise<SessionData> {
    const field = fieldOf(checkKey(key));
    const result = await this.write(sid, 'patch', this.autoExpiry(), [], [field], { wantSession: true });
    await this.followOwner(sid, result);
    return this.stateOf(sid, result).session;
  }

  /**
   * Atomic read-modify-write of one key: `fn` gets the current value (undefined when absent) and
   * returns the new one (undefined removes the key). When another writer changed the key in
   * between, `fn` runs again on the new value, up to `updateAttempts` times. Returns the updated
   * session; ERR_LIVE_SESSION_NOT_FOUND as putSession.
   */
  async updateSession<T = unknown>(sid: string, key: string, fn: (current: T | undefined) => T | undefined | Promise<T | undefined>): Promise<SessionData> {
    return (await this.updateSessionState(sid, key, fn)).session;
  }

  /** updateSession, returning the session with its version. */
  async updateSessionState<T = unknown>(sid: string, key: string, fn: (current: T | undefined) => T | undefined | Promise<T | undefined>): Promise<SessionState> {
    const field = fieldOf(checkKey(key));
    for (let attempt = 0; attempt < this.options.updateAttempts; attempt++) {
      // The compare-and-set below compares the stored strings: the cache's are encoded again from
      // what it holds, the same strings for whatever this store wrote; after a conflict, Redis's own.
      const loaded = attempt === 0 && this.cache ? ((await this.cache.get(sid, false)) ?? (await this.readExact(sid))) : await this.readExact(sid);
      if (!loaded) throw notFound(sid);
      const current = loaded.storedFields().get(field);
      const next = await fn(current === undefined ? undefined : (loaded.data[key] as T));
      const stored = encodeValue(sid, key, next);
      const result = await this.write(sid, 'patch', this.autoExpiry(), stored === undefined ? [] : [[field, stored]], stored === undefined ? [field] : [], {
        wantSession: true,
        expect: { field, value: current ?? '' },
      });
      if (result.status === 'conflict') continue;
      await this.followOwner(sid, result);
      return this.stateOf(sid, result);
    }
    throw new LiveSessionError(
      'ERR_LIVE_SESSION_CONFLICT',
      `session "${sid}": key "${key}" kept changing under updateSession (${this.options.updateAttempts} attempts, option "updateAttempts"); nothing was written`,
    );
  }

  /**
   * Refreshes a session's lifetime as a read would, without reading it: for activity that is not
   * an HTTP request (a socket's events). A session whose cookie fixes its expiry keeps it.
   * Resolves to the new expiry and the interval it moved by (null for a fixed expiry), or null
   * when the session does not exist. Publishes nothing.
   */
  async touchSession(sid: string): Promise<{ expiresAt: number; refreshInterval: number | null } | null> {
    const key = this.keyOf(sid);
    const index = this.index;
    const touch = () => this.redis.script(SCRIPTS.touch, key, index ? ['?'] : []);
    const startedAt = Date.now();
    const reply = (await this.call('touch', touch)) as [number, number, ...unknown[]] | null;
    if (reply === null) {
      await this.followed?.gone(sid);
      return null;
    }
    const [pttl, interval, ...rest] = reply;
    const request = indexRequestOf(rest);
    if (index && request) index.handle(key, sid, request, () => '').catch(() => undefined); // a background refresh
    const expiresAt = expiresAtOf(pttl, Date.now()) ?? Number.POSITIVE_INFINITY;
    this.followed?.expiryMoved(sid, expiresAt, startedAt);
    return { expiresAt, refreshInterval: interval >= 0 ? interval : null };
  }

  /**
   * When each session expires (ms since the epoch; Infinity for one without a TTL), or null when
   * it no longer exists. One PTTL per session, pipelined; unlike a read it does not refresh them.
   */
  async getExpiries(sids: readonly string[]): Promise<Map<string, number | null>> {
    const keys = sids.map((sid) => this.keyOf(sid));
    const now = Date.now();
    const replies = await this.call('pttl', () => this.redis.batch(keys.map((key) => ({ key, args: ['PTTL', key] }))));
    return new Map(
      sids.map((sid, i) => {
        const [err, pttl] = replies[i];
        if (err) throw redisError('pttl', err);
        // PTTL: -2 no key, -1 no TTL.
        return [sid, pttl === -2 ? null : (expiresAtOf(pttl as number, now) ?? Number.POSITIVE_INFINITY)];
      }),
    );
  }

  // ---- The sessions of a user (the `userOf` option; see user-index.ts)

  /**
   * The live sessions of a user, oldest first, each checked against the session itself (index
   * members whose session is gone or now belongs to someone else are pruned). Reading them does
   * not refresh their lifetime.
   */
  async sessionsOf(user: string): Promise<UserSession[]> {
    return this.userIndex('sessionsOf').sessionsOf(checkUser(user, 'a user'), (sid) => this.keyOf(sid));
  }

  /**
   * Destroys every session of a user (but `except`, typically the caller's own; or only those of
   * `only` that belong to the user: "log out that device"), each with the reason "revoked" in its
   * destroy message; returns how many were destroyed.
   */
  async destroySessionsOf(user: string, { except, only }: { except?: string; only?: readonly string[] } = {}): Promise<number> {
    if (except !== undefined) checkSid(except);
    if (only !== undefined) {
      if (!Array.isArray(only)) throw new LiveSessionError('ERR_LIVE_SESSION_INVALID_ARGUMENT', `option "only" of destroySessionsOf must be an array of session ids, got ${describe(only)}`);
      only.forEach(checkSid);
    }
    const index = this.userIndex('destroySessionsOf');
    const checked = checkUser(user, 'a user');
    const at = Date.now();
    const events = this.events && { destroyArgs: (key: string) => this.events!.destroyArgs(key, 'revoked', at, `=${checked}`), ended: (sids: string[]) => this.events!.ended(sids, 'revoked', at) };
    return index.destroySessionsOf(checked, { except, only }, (sid) => this.keyOf(sid), events);
  }

  private userIndex(method: string): UserIndex {
    if (!this.index) throw new LiveSessionError('ERR_LIVE_SESSION_INVALID_ARGUMENT', `${method} needs the store option "userOf", which says who a session belongs to`);
    return this.index;
  }

  // ---- Reading: from memory (the cache), or one command

  /**
   * A request's read (express-session's `get`): from memory when the cache holds the session
   * (cache.ts: exact, see replica/replica.ts), else one command (fetch). The lifetime moves with
   * the `touch` or `set` that ends the request, as with connect-redis (a read from memory also
   * moves it when Redis is asked whether the session still exists). (No async/await: the hot path.)
   */
  private read(sid: string): Promise<LoadedSession | null> {
    const cache = this.cache;
    if (!cache) return this.fetch(sid);
    try {
      checkSid(sid);
    } catch (err) {
      return Promise.reject(err);
    }
    return cache.get(sid, false).then((hit) => (hit !== undefined ? hit : this.fetch(sid)));
  }

  /**
   * A read that refreshes the lifetime (the direct API's, and `get` outside a request): from memory
   * (cache.ts; a lifetime lagging by more than touchGrace is refreshed), or the get script.
   */
  private readRefreshed(sid: string): Promise<LoadedSession | null> {
    const cache = this.cache;
    const read = () => this.readScript(sid).catch((err: unknown) => this.migrated(sid, err, () => this.readScript(sid)));
    if (!cache) return read();
    try {
      checkSid(sid);
    } catch (err) {
      return Promise.reject(err);
    }
    return cache.get(sid, true).then((hit) => (hit !== undefined ? hit : read()));
  }

  /**
   * One command: on a client that batches (and without a user index) a plain HGETALL, which the
   * client sends with the other requests' commands of the same tick, the expiry taken from the
   * hash; otherwise the get script, which also refreshes the lifetime (one round trip). A
   * connect-redis session fails either (WRONGTYPE): it is migrated, then read again.
   */
  private fetch(sid: string): Promise<LoadedSession | null> {
    const reading = this.plainReads ? this.readHash(sid) : this.readScript(sid);
    return reading.catch((err: unknown) => this.migrated(sid, err, () => this.fetch(sid)));
  }

  /** A plain HGETALL; a session whose expiry the hash cannot tell is read by the script. (Hot path: no async.) */
  private readHash(sid: string): Promise<LoadedSession | null> {
    let key: string;
    try {
      key = this.keyOf(sid);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.call('get', () => this.redis.command(key, ['HGETALL', key]), (reply) => {
      const flat = flatPairs(reply);
      if (flat.length === 0) return null;
      return decodeHash(sid, flat) ?? this.readScript(sid);
    });
  }

  /**
   * The get script: HGETALL, the refresh of the lifetime and PTTL in one round trip, as one JSON
   * document; with a user index, the owner too (and the index's deadline kept). (Hot path: no async.)
   */
  private readScript(sid: string): Promise<LoadedSession | null> {
    let key: string;
    try {
      key = this.keyOf(sid);
    } catch (err) {
      return Promise.reject(err);
    }
    const index = this.index;
    const fetch = () => this.redis.script(SCRIPTS.get, key, index ? ['document', '?'] : []);
    return this.call('get', fetch, (reply) => {
      if (!index) return this.decode(sid, reply as GetReply);
      const unwrapped = unwrapIndexed(sid, key, reply, index);
      if (unwrapped === null) return null;
      const remember = (loaded: LoadedSession | null) => {
        if (loaded) index.rememberOwner(loaded, unwrapped.owner);
        return loaded;
      };
      const decoded = this.decode(sid, unwrapped.text);
      return decoded instanceof Promise ? decoded.then(remember) : remember(decoded);
    });
  }

  /**
   * The session exactly as stored, without refreshing it: HGETALL and PTTL in one round trip
   * (Redis's cheapest: two plain commands). What a compare-and-set compares, what names a corrupt
   * field, and what the replica reads.
   */
  private readExact(sid: string): Promise<LoadedSession | null> {
    return this.readManyExact([sid]).then((loaded) => loaded.get(sid) ?? null);
  }

  /** readExact of many sessions in one round trip (on a Cluster, one per session). */
  private async readManyExact(sids: readonly string[]): Promise<Map<string, LoadedSession | null>> {
    const keys = sids.map((sid) => this.keyOf(sid));
    const commands = keys.flatMap((key) => [
      { key, args: ['HGETALL', key] },
      { key, args: ['PTTL', key] },
    ]);
    const replies = await this.call('get', () => this.redis.batch(commands));
    return new Map(
      await Promise.all(
        sids.map(async (sid, i): Promise<[string, LoadedSession | null]> => {
          const decoded = this.decodeExact(sid, replies[2 * i], replies[2 * i + 1]);
          // A connect-redis session: migrated, then read alone.
          return [sid, decoded instanceof Error ? await this.migrated(sid, decoded, () => this.readExact(sid)) : decoded];
        }),
      ),
    );
  }

  /** An HGETALL and PTTL pair as a session (or the error to migrate after). */
  private decodeExact(sid: string, [hashErr, hash]: BatchReply, [pttlErr, pttl]: BatchReply): LoadedSession | null | Error {
    if (hashErr && isWrongType(hashErr)) return hashErr;
    if (hashErr || pttlErr) throw redisError('get', hashErr ?? pttlErr);
    const flat = flatPairs(hash);
    if (flat.length === 0) return null;
    const loaded = decodeSession(sid, flat, pttl as number);
    this.index?.rememberOwner(loaded, ownerInHash(flat));
    return loaded;
  }

  /** After a read failed with `err`: when it is a connect-redis session, migrates it and reads again (src/legacy.ts). */
  private migrated(sid: string, err: unknown, read: () => Promise<LoadedSession | null>): Promise<LoadedSession | null> {
    return retryAfterMigrating(this.legacy, sid, this.options.prefix + sid, err, read);
  }

  /**
   * A session document decodes with one JSON.parse. When a stored value is not one JSON value the
   * document is not either: reading the stored strings one by one then names the corrupt field.
   */
  private decode(sid: string, document: string | null): LoadedSession | null | Promise<LoadedSession | null> {
    if (document === null) return null;
    return decodeSessionDocument(sid, document) ?? this.readExact(sid);
  }

  /** The version Redis holds for a session (the replica's check on a Cluster), null when it is gone. */
  private async versionOf(sid: string): Promise<number | null> {
    const key = this.keyOf(sid);
    const version = await this.call('get', () => this.redis.command(key, ['HGET', key, VERSION_FIELD]));
    return version === null || version === undefined ? null : Number(version);
  }

  /**
   * The cache's check that a followed session still exists, refreshing its lifetime as a read
   * does: PEXPIRE by its refresh interval, PTTL for a fixed expiry, the touch script with a user
   * index (which keeps the index's deadline). Its new expiry, or null when it is gone (the
   * replica is told).
   */
  private async confirm(session: FollowedSession): Promise<number | null> {
    const { sid } = session;
    const key = this.keyOf(sid);
    let expiresAt: number | null;
    const startedAt = Date.now();
    const interval = session.refreshInterval;
    if (this.index) {
      expiresAt = (await this.touchSession(sid))?.expiresAt ?? null;
    } else if (interval !== null) {
      const moved = await this.call('touch', () => this.redis.command(key, ['PEXPIRE', key, interval]));
      expiresAt = moved === 1 ? startedAt + interval : null;
    } else {
      const pttl = (await this.call('pttl', () => this.redis.command(key, ['PTTL', key]))) as number;
      expiresAt = pttl === -2 ? null : (expiresAtOf(pttl, startedAt) ?? Number.POSITIVE_INFINITY);
    }
    if (expiresAt === null) await this.followed?.gone(sid);
    return expiresAt;
  }

  /** With a user index, after a direct-API write: moves the session if `userOf` now names another owner. */
  private async followOwner(sid: string, result: WriteResult): Promise<void> {
    if (!this.index || result.status !== 'ok' || !result.loaded) return;
    await this.index.follow(sid, result.loaded, result.owner ?? null, this.options.updateAttempts, {
      // A write of nothing but the owner, on condition that the session is still at that version.
      move: async (spec, version, info) =>
        (await this.write(sid, 'patch', this.autoExpiry(), [], [], { expect: { field: VERSION_FIELD, value: String(version) }, index: { spec, info } })).status,
      reread: () => this.readExact(sid),
    });
  }

  /** express-session's save: the write plan of this request (save-plan.ts), sent as one write. */
  private async save(sid: string, data: SessionData): Promise<void> {
    checkSid(sid);
    checkSession(sid, data);
    const req = requestOf(data);
    const snapshot = req && getSnapshot(req, this.snapshotSlot);
    const loaded = snapshot?.sid === sid ? snapshot : undefined;
    const plan = planSave(sid, data, loaded, this.options);
    if (plan === 'expired') {
      await this.remove(sid, 'expired');
      return;
    }
    const owner = this.index?.ownerOf(sid, data) ?? null;
    const index = this.index?.ofSave(sid, data, req as IncomingMessage | undefined, owner, loaded);
    // A patch on a session destroyed meanwhile (a logout elsewhere) is 'gone': a late save never brings it back.
    const result = await this.write(sid, plan.mode, plan.expiry, plan.set, plan.del, { index });
    if (req && result.status === 'ok') {
      const written: Snapshot = { sid, storedFields: () => plan.fields, cookie: plan.cookie, expiresAt: expiryTime(plan.expiry) };
      this.index?.rememberOwner(written, owner);
      setSnapshot(req, this.snapshotSlot, written);
    }
  }

  private async refresh(sid: string, data: SessionData): Promise<void> {
    checkSid(sid);
    checkSession(sid, data);
    const expiry = expiryOf(data.cookie, this.options.lifetime);
    const expiresAt = expiryTime(expiry);
    const req = requestOf(data);
    const snapshot = req && getSnapshot(req, this.snapshotSlot);
    const loaded = snapshot?.sid === sid ? snapshot : undefined;
    const { touchGrace, touchAfter } = this.options;
    // The cookie is as loaded (so express-session can load it), and not expired: only the expiry may move.
    if (loaded?.cookie && expiresAt > Date.now() && sameCookieAttributes(loaded.cookie, data.cookie, touchGrace)) {
      // Nothing to send when the expiry Redis holds is already where the cookie wants it (within
      // touchGrace: a fixed expiry, a read that refreshed it) or lags by no more than touchAfter.
      // The snapshot's expiry is a lower bound (fields.ts, `$e`).
      const lag = loaded.expiresAt === null ? Number.POSITIVE_INFINITY : expiresAt - loaded.expiresAt;
      if (Math.abs(lag) <= touchGrace || (lag > 0 && lag <= touchAfter)) return;
      // One command that never re-creates a session (PEXPIREAT of a missing key does nothing). With
      // a user index the write script below keeps the index's deadline.
      if (!this.index) {
        const moved = await this.moveExpiry(sid, expiresAt);
        if (moved && this.events && lag < -touchGrace) await this.events.movedBack(sid, expiresAt);
        if (moved && req) setSnapshot(req, this.snapshotSlot, { ...loaded, expiresAt });
        return;
      }
    }
    // Before anything else: a cookie express-session could not load is refused, never a reason to delete.
    const cookie = encodeStoredCookie(sid, data.cookie);
    if (expiry.kind === 'at' && expiry.ms <= Date.now()) {
      await this.remove(sid, 'expired');
      return;
    }
    // Writes the cookie (only if it changed) and the expiry; never re-creates a destroyed session.
    // A session without a cookie (the direct API's) loses the stored one, as `set` would.
    const refresh = refreshFields(data.cookie, this.options.lifetime);
    const set: [string, string][] = cookie === undefined ? refresh.set : [[COOKIE_FIELD, cookie], ...refresh.set];
    const del = cookie === undefined ? [COOKIE_FIELD, ...refresh.del] : refresh.del;
    const result = await this.write(sid, 'patch', expiry, set, del, {});
    if (req && loaded && result.status === 'ok') {
      const fields = new Map(loaded.storedFields());
      if (cookie === undefined) fields.delete(COOKIE_FIELD);
      else fields.set(COOKIE_FIELD, cookie);
      setSnapshot(req, this.snapshotSlot, { sid, storedFields: () => fields, cookie: cookie === undefined ? undefined : decodeCookie(cookie, expiresAt), expiresAt });
    }
  }

  /**
   * Moves a session's expiry (never re-creates it): a plain PEXPIREAT, or with touchAfter the
   * script that also records it in `$e`, which the next requests' lag is measured from.
   */
  private async moveExpiry(sid: string, expiresAt: number): Promise<boolean> {
    const key = this.keyOf(sid);
    const startedAt = Date.now();
    const moved =
      this.options.touchAfter > 0
        ? await this.call('touch', () => this.redis.script(SCRIPTS.refresh, key, [expiresAt]))
        : await this.call('touch', () => this.redis.command(key, ['PEXPIREAT', key, expiresAt]));
    // Redis's answer also tells the replica (if it follows the session) whether it still exists.
    if (moved !== 1) await this.followed?.gone(sid);
    else this.followed?.expiryMoved(sid, expiresAt, startedAt);
    return moved === 1;
  }

  private async remove(sid: string, reason: DestroyReason): Promise<boolean> {
    const key = this.keyOf(sid);
    // A connect-redis session is migrated first (so its subscribers hear the destroy); one that is
    // not a session is just deleted. With a user index the reply names the owner, whose index then
    // lets go of the session.
    const owners = this.index ? ['*'] : [];
    // With events, the same time in the destroy's tombstone and in its record: either reports the same event.
    const at = Date.now();
    const args = [this.options.publish, reason, ...(this.events ? this.events.destroyArgs(key, reason, at, owners[0]) : owners)];
    const destroy = () => this.call('destroy', () => this.redis.script(SCRIPTS.destroy, key, args));
    const deleted = await withMigration(this.legacy, sid, key, destroy, true);
    if (this.index && Array.isArray(deleted)) await this.index.forget(String(deleted[1]), [sid]);
    if (this.events && (Array.isArray(deleted) || deleted === 1)) await this.events.ended([sid], reason, at);
    return Array.isArray(deleted) || deleted === 1;
  }

  private async write(
    sid: string,
    mode: 'patch' | 'replace',
    expiry: Expiry,
    set: [string, string][],
    del: string[],
    { wantSession = false, expect, index }: { wantSession?: boolean; expect?: { field: string; value: string }; index?: WriteIndex },
  ): Promise<WriteResult> {
    const key = this.keyOf(sid);
    // One header argument (see lua/write.lua): ioredis's cost grows with the number of arguments.
    const { maxBytes, maxMessageBytes, publish } = this.options;
    // touchAfter measures how far the expiry lags from the one each write records in `$e`.
    const record = this.options.touchAfter > 0 ? 1 : 0;
    // A lifetime goes as the time it ends: the script then needs no arithmetic (lua/write.lua, "Cost").
    const now = Date.now();
    const at = expiry.kind === 'in' ? ['at', now + expiry.ms] : [expiry.kind, expiry.ms];
    // With events, a last field asks the script to end its reply with whether it created the session.
    const header = `${mode} ${at[0]} ${at[1]} ${maxBytes} ${maxMessageBytes} ${wantSession ? 1 : 0} ${publish} ${now} ${set.length} ${del.length} ${expect ? 1 : 0} ${record}${this.events ? ' 1' : ''}`;
    const args: string[] = expect ? [header, expect.field, expect.value] : [header];
    // Loops, not spreads: a session may have more keys than a call can take arguments.
    for (const [field, stored] of set) args.push(field, stored);
    for (const field of del) args.push(field);
    if (this.index) args.push(index?.spec ?? '?');
    checkArguments(sid, args);
    // A connect-redis session is migrated, then written; a replace does not need its old value.
    const send = () => this.call('write', () => this.redis.script(SCRIPTS.write, key, args));
    const startedAt = now;
    // ['ok', version as text[, the session's HGETALL, its expiry (text) or PTTL[, the owner, the index's request]]],
    // or ['too_large', bytes] (lua/write.lua).
    const reply = (await withMigration(this.legacy, sid, key, send, mode === 'replace')) as [string, string | number, unknown?, (string | number)?, ...unknown[]];
    switch (reply[0]) {
      case 'ok': {
        const request = this.index ? indexRequestOf(reply.slice(5)) : undefined;
        if (request) await this.index!.handle(key, sid, request, index?.info ?? (() => ''));
        if (this.events) {
          await this.events.written(sid, {
            created: reply[reply.length - 1] === 1,
            now,
            expiresAt: at[0] === 'at' ? Number(at[1]) : null,
            movedBack: mode === 'replace' || set.some(([field]) => field === COOKIE_FIELD) || del.includes(COOKIE_FIELD),
            owner: request?.kind === 'moved' ? { user: request.user, info: index?.info ?? (() => '') } : undefined,
          });
        }
        const loaded = wantSession ? decodeWrittenSession(sid, flatPairs(reply[2]), reply[3]!) : undefined;
        // A session this process follows: a write returning it is applied now (no read back);
        // otherwise its change message brings the data, and this the expiry it set.
        const followed = this.followed;
        if (followed && loaded) await followed.adopt(sid, loaded, startedAt);
        // (With a user index the script may cap the expiry at the index's deadline: the write's own time is not it.)
        else if (followed && expiry.kind !== 'keep' && !this.index) followed.expiryMoved(sid, at[1] as number, startedAt);
        return { status: 'ok', loaded, owner: this.index ? ((reply[4] as string | null | undefined) ?? null) : undefined };
      }
      case 'gone':
        await this.followed?.gone(sid);
        return { status: 'gone' };
      case 'conflict':
        return { status: 'conflict' };
      case 'too_large':
        throw new LiveSessionError(
          'ERR_LIVE_SESSION_TOO_LARGE',
          `session "${sid}" would take ${reply[1]} bytes, over the limit of ${this.options.maxBytes} (option "maxBytes"); nothing was written`,
        );
      default:
        throw new Error(`live-session: unexpected reply from the write script: ${JSON.stringify(reply)}`);
    }
  }

  private stateOf(sid: string, result: WriteResult): SessionState {
    if (result.status !== 'ok' || !result.loaded) throw notFound(sid);
    return toState(result.loaded);
  }

  private async readAll(): Promise<Record<string, SessionData>> {
    const result: Record<string, SessionData> = {};
    const prefixLength = this.options.prefix.length;
    let pending = await this.keys();
    // connect-redis sessions fail HGETALL (WRONGTYPE): each is migrated (keeping its TTL), then
    // read again with the others, without refreshing it.
    for (let attempt = 0; pending.length > 0; attempt++) {
      const keys = pending;
      const replies = await this.call('all', () =>
        this.redis.batch(keys.flatMap((key) => [
          { key, args: ['HGETALL', key] },
          { key, args: ['PTTL', key] },
        ])),
      );
      pending = [];
      keys.forEach((key, i) => {
        const [hashErr, hash] = replies[2 * i];
        const [, pttl] = replies[2 * i + 1];
        if (hashErr && isWrongType(hashErr) && attempt < this.options.updateAttempts) return void pending.push(key);
        if (hashErr) throw redisError('all', hashErr);
        const flat = flatPairs(hash);
        if (flat.length === 0) return; // expired between SCAN and read
        const sid = key.slice(prefixLength);
        Object.defineProperty(result, sid, { value: decodeSession(sid, flat, pttl as number).data, enumerable: true, writable: true, configurable: true });
      });
      await Promise.all(pending.map((key) => migrate(this.legacy, key.slice(prefixLength), key)));
    }
    return result;
  }

  private async removeAll(): Promise<void> {
    const keys = await this.keys();
    const owners = this.index ? ['*'] : [];
    const at = Date.now();
    const argsOf = (key: string) => [this.options.publish, 'revoked', ...(this.events ? this.events.destroyArgs(key, 'revoked', at, owners[0]) : owners)];
    const replies = await this.call('clear', () => this.redis.batch(keys.map((key) => ({ key, script: SCRIPTS.destroy, args: argsOf(key) }))));
    // connect-redis sessions fail the destroy script (WRONGTYPE): each is destroyed on its own.
    const legacy = keys.filter((_, i) => isWrongType(replies[i][0]));
    const failed = replies.find(([err]) => err && !isWrongType(err));
    if (failed) throw redisError('clear', failed[0]);
    if (this.index) await this.index.removeDestroyed(keys.map((key) => key.slice(this.options.prefix.length)), replies.map(([, reply]) => reply));
    if (this.events) await this.events.ended(keys.filter((_, i) => Array.isArray(replies[i][1]) || replies[i][1] === 1).map((key) => key.slice(this.options.prefix.length)), 'revoked', at);
    await Promise.all(legacy.map((key) => this.remove(key.slice(this.options.prefix.length), 'revoked')));
  }

  /** Every session key under the prefix. */
  private keys(): Promise<string[]> {
    // Strings too: sessions connect-redis stored under the same prefix (src/legacy.ts).
    return this.call('scan', () => scanKeys(this.redis, this.options.prefix, this.options.scanCount, ['string', 'hash']));
  }

  /** For writes outside a request: the lifetime policy the session's last save stored. */
  private autoExpiry(): Expiry {
    return { kind: 'keep', ms: 0 };
  }

  /**
   * Runs one Redis operation, failing with ERR_LIVE_SESSION_TIMEOUT if Redis does not answer in
   * time, and with ERR_LIVE_SESSION_REDIS if it fails; `then` maps its reply.
   */
  private call<T, R = T>(what: string, operation: () => Promise<T>, then?: (value: T) => R | Promise<R>): Promise<R> {
    let pending: Promise<T>;
    try {
      pending = operation();
    } catch (err) {
      return Promise.reject(redisError(what, err));
    }
    return this.deadlines.run(what, pending, then);
  }

}

/** The store rejects with LiveSessionError only: an ioredis error becomes its `cause`. */
function redisError(what: string, err: unknown): LiveSessionError {
  if (err instanceof LiveSessionError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new LiveSessionError('ERR_LIVE_SESSION_REDIS', `Redis failed "${what}": ${message}`, { cause: err });
}

function dataOf(loaded: LoadedSession | null): SessionData | null {
  return loaded && asSessionData(loaded.data);
}

function toState(loaded: LoadedSession): SessionState {
  return { session: asSessionData(loaded.data), version: loaded.version, createdAt: loaded.createdAt, expiresAt: loaded.expiresAt };
}

/** The store keeps whatever the app put in the session; express-session's type names what it expects. */
function asSessionData(record: SessionRecord): SessionData {
  return record as unknown as SessionData;
}

/** A PTTL reply as ms since the epoch; null for a key without a TTL (or none). */
function expiresAtOf(pttl: number, now: number): number | null {
  return pttl >= 0 ? now + pttl : null;
}

function getSnapshot(holder: object, slot: symbol): Snapshot | undefined {
  return (holder as Record<symbol, Snapshot | undefined>)[slot];
}

function setSnapshot(holder: object, slot: symbol, snapshot: Snapshot): void {
  (holder as Record<symbol, Snapshot>)[slot] = snapshot;
}

/** express-session's Session carries its request as a non-enumerable `req`. */
function requestOf(data: SessionData): object | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const req = (data as { req?: unknown }).req;
  return typeof req === 'object' && req !== null ? req : undefined;
}

function checkSid(sid: unknown): string {
  // A lone surrogate would reach Redis as U+FFFD: two such ids would name the same session.
  if (typeof sid !== 'string' || sid.length === 0 || sid.length > MAX_SID_LENGTH || LONE_SURROGATE.test(sid)) {
    throw new LiveSessionError(
      'ERR_LIVE_SESSION_BAD_ID',
      `a session id must be a non-empty, well-formed string of at most ${MAX_SID_LENGTH} characters, got ${describe(sid)}`,
    );
  }
  return sid;
}

function checkSession(sid: string, data: unknown): void {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new LiveSessionError('ERR_LIVE_SESSION_INVALID_ARGUMENT', `session "${sid}": a session must be an object, got ${Array.isArray(data) ? 'an array' : describe(data)}; nothing was written`);
  }
}

function checkKey(key: unknown): string {
  if (typeof key !== 'string') {
    throw new LiveSessionError('ERR_LIVE_SESSION_INVALID_ARGUMENT', `a session key must be a string, got ${describe(key)}`);
  }
  if (key === COOKIE_FIELD) {
    throw new LiveSessionError('ERR_LIVE_SESSION_INVALID_ARGUMENT', 'the "cookie" key belongs to express-session: set it through req.session.cookie');
  }
  return key;
}

function notFound(sid: string): LiveSessionError {
  return new LiveSessionError(
    'ERR_LIVE_SESSION_NOT_FOUND',
    `session "${sid}" does not exist (destroyed, expired, or never saved); nothing was written`,
  );
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  return value === null ? 'null' : typeof value;
}
