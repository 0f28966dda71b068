/**
 * request.session: express-session's own Session (the same data, the same Cookie, `touch` and
 * `resetMaxAge`), whose `regenerate`, `destroy`, `reload` and `save` work on a Fastify request and
 * return a promise when given no callback.
 *
 * The store keeps per-key writes through express-session's protocol: its `get(sid, callback)` hands
 * what it read to the request when `store.createSession(request, data)` is called from inside that
 * callback, and its `set(sid, session)` compares the session with that snapshot, found through the
 * session's non-enumerable `req`. Every load here (the request's, `reload`) goes through that path.
 */
import type { LiveSessionStore } from '@live-session/core';
import session from 'express-session';
import type { FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

type SessionData = session.SessionData;
/** express-session's callbacks: an error or nothing. */
export type SessionCallback = (err?: any) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

/** What a session needs from the plugin. */
export interface SessionHost {
  readonly store: LiveSessionStore;
  /** Gives the request a new session: a new id, the configured cookie. */
  generate(request: FastifyRequest): void;
}

/**
 * What the plugin remembers of one request, to decide at its end whether to save, touch, or send
 * the cookie (express-session's rules: lifecycle.ts).
 */
export interface RequestSessionState {
  readonly host: SessionHost;
  /** The id the request's cookie carried, validly signed; undefined for none. */
  readonly cookieId: string | undefined;
  /** The id and the data (hashOf) of the session the request started with. */
  originalId: string;
  originalHash: string;
  /** hashOf the session as last saved (or as loaded, unless `resave`); undefined: never. */
  savedHash: string | undefined;
  /** The end of the request was handled (an error reply runs the onSend hooks again). */
  committed: boolean;
}

/** Where a request keeps its RequestSessionState (a decorated request property). */
export const STATE: unique symbol = Symbol('@live-session/fastify state');

export function stateOf(request: FastifyRequest): RequestSessionState | null {
  return (request as unknown as Record<typeof STATE, RequestSessionState | null>)[STATE];
}

export function setState(request: FastifyRequest, state: RequestSessionState): void {
  (request as unknown as Record<typeof STATE, RequestSessionState>)[STATE] = state;
}

/** express-session's Session, whose typings declare its constructor private. */
const ExpressSession = session.Session as unknown as new (request: object, data?: object) => session.Session;

/** Where a session keeps its Fastify request (a non-enumerable property: never stored, never hashed). */
const FASTIFY_REQUEST = Symbol('@live-session/fastify request');

export class FastifySession extends ExpressSession {
  /**
   * Node's request (non-enumerable, express-session's `req`, set by its constructor from
   * `req.sessionID`): the store finds what the request loaded through it, and hands it to its
   * `describe` option, as under Express.
   */
  declare readonly req: IncomingMessage;

  constructor(request: FastifyRequest, data?: object) {
    super(request.raw, data);
    Object.defineProperty(this, FASTIFY_REQUEST, { value: request });
  }

  /** Destroys this session in the store and gives the request a new one (a new id): call it at login. */
  override regenerate(): Promise<void>;
  override regenerate(callback: SessionCallback): this;
  override regenerate(callback?: SessionCallback): Promise<void> | this {
    return settle(this, callback, () => regenerate(this));
  }

  /** Destroys this session in the store (a logout, published to every server); `request.session` becomes null. */
  override destroy(): Promise<void>;
  override destroy(callback: SessionCallback): this;
  override destroy(callback?: SessionCallback): Promise<void> | this {
    return settle(this, callback, () => destroy(this));
  }

  /** Reads the session again from the store into a new `request.session`; fails when it no longer exists. */
  override reload(): Promise<void>;
  override reload(callback: SessionCallback): this;
  override reload(callback?: SessionCallback): Promise<void> | this {
    return settle(this, callback, () => reload(this));
  }

  /** Saves now what this request changed (the plugin also saves at the end of the request). */
  override save(): Promise<void>;
  override save(callback: SessionCallback): this;
  override save(callback?: SessionCallback): Promise<void> | this {
    return settle(this, callback, () => save(this));
  }
}

/**
 * Loads session `sid` into `request.session`, through the store's get-then-createSession path, so
 * that the store keeps what it read for the request's save to compare against. False when the
 * session does not exist (never did, destroyed, expired).
 */
export function loadSession(request: FastifyRequest, store: LiveSessionStore, sid: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    // With a callback the store's promise never rejects: the callback gets every outcome.
    void store.get(sid, (err: unknown, data?: SessionData | null) => {
      // express-session's contract: an error with code ENOENT means "no such session".
      if (err && (err as { code?: unknown }).code !== 'ENOENT') return reject(err);
      if (err || !data) return resolve(false);
      try {
        setSessionId(request, sid);
        // Must run inside get's callback: that is when the store hands the snapshot to the request.
        store.createSession(request.raw as IncomingMessage & { sessionID: string }, data);
        request.session = new FastifySession(request, data) as FastifySession & Partial<SessionData>;
        resolve(true);
      } catch (thrown) {
        reject(thrown);
      }
    });
  });
}

/** express-session's hash of a session: its JSON without the cookie, whose changes are no modification. */
export function hashOf(sess: object): string {
  const json = JSON.stringify(sess, function (this: unknown, key: string, value: unknown) {
    return this === sess && key === 'cookie' ? undefined : value;
  });
  return createHash('sha1').update(json, 'utf8').digest('hex');
}

/** The session's id on both requests: express-session's Session reads it from Node's (`req.sessionID`). */
export function setSessionId(request: FastifyRequest, sid: string): void {
  request.sessionID = sid;
  (request.raw as IncomingMessage & { sessionID?: string }).sessionID = sid;
}

function requestOf(sess: FastifySession): FastifyRequest {
  return (sess as unknown as Record<typeof FASTIFY_REQUEST, FastifyRequest>)[FASTIFY_REQUEST];
}

function stateOfSession(sess: FastifySession): RequestSessionState {
  const state = stateOf(requestOf(sess));
  if (!state) throw new Error('@live-session/fastify: this session does not belong to a request the plugin handles');
  return state;
}

async function save(sess: FastifySession): Promise<void> {
  const state = stateOfSession(sess);
  const hash = hashOf(sess);
  await state.host.store.set(sess.id, sess as unknown as SessionData);
  state.savedHash = hash;
}

async function reload(sess: FastifySession): Promise<void> {
  if (!(await loadSession(requestOf(sess), stateOfSession(sess).host.store, sess.id))) {
    throw new Error(`@live-session/fastify: failed to reload session "${sess.id}": it no longer exists (logged out, expired or revoked)`);
  }
}

async function destroy(sess: FastifySession): Promise<void> {
  const { host } = stateOfSession(sess);
  const request = requestOf(sess);
  if (request.session === sess) (request as { session: unknown }).session = null;
  await host.store.destroy(sess.id);
}

async function regenerate(sess: FastifySession): Promise<void> {
  const { host } = stateOfSession(sess);
  // When the old session cannot be destroyed the request keeps it, and the caller gets the error.
  await host.store.destroy(sess.id);
  host.generate(requestOf(sess));
}

/** Callback style (returns the session, as express-session's methods do) or a promise. */
function settle<S>(sess: S, callback: SessionCallback | undefined, run: () => Promise<void>): Promise<void> | S {
  const running = run();
  if (callback === undefined) return running;
  running
    .then(() => callback(), callback)
    .catch((thrown: unknown) =>
      // A callback that throws escapes, as it would from a callback library.
      process.nextTick(() => {
        throw thrown;
      }),
    );
  return sess;
}
