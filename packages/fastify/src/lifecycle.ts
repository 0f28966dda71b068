/**
 * One request's session from start to end, by express-session's rules: at the start, the session
 * of the signed cookie (or a new one); at the end, a save when the request changed it (only what it
 * changed is written, and a session destroyed meanwhile stays destroyed), a touch of its expiry
 * otherwise, and the cookie when express-session would send it.
 */
import { type LiveSessionStore, signSessionId, verifiedSessionId } from '@live-session/core';
import { parse as parseCookies } from 'cookie';
import session from 'express-session';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ResolvedOptions } from './options';
import { FastifySession, hashOf, loadSession, type RequestSessionState, type SessionHost, setSessionId, setState, stateOf } from './session';

/** express-session's Cookie (its typings declare no constructor arguments, nor `serialize`). */
type ExpressCookie = session.Cookie & { serialize(name: string, value: string): string };
const Cookie = session.Cookie as unknown as new (options: session.CookieOptions) => ExpressCookie;

export class SessionLifecycle implements SessionHost {
  readonly store: LiveSessionStore;

  constructor(private readonly options: ResolvedOptions) {
    this.store = options.store;
  }

  /** onRequest: `request.session` is the session of the signed cookie, or a new one. */
  async begin(request: FastifyRequest): Promise<void> {
    // As express-session: no session outside the cookie's path (the browser would not send it back).
    const path = request.url.split('?', 1)[0];
    if (!path.startsWith(this.options.cookie.path ?? '/')) return;
    // The header itself, as express-session reads it (with or without @fastify/cookie in the app).
    const header = request.headers.cookie;
    const cookieId = header ? verifiedSessionId(parseCookies(header)[this.options.name], this.options.secrets) : undefined;
    const state: RequestSessionState = { host: this, cookieId, originalId: '', originalHash: '', savedHash: undefined, committed: false };
    setState(request, state);
    const found = cookieId !== undefined && (await loadSession(request, this.store, cookieId));
    if (!found) this.generate(request);
    state.originalId = request.sessionID;
    state.originalHash = hashOf(request.session);
    if (found && !this.options.resave) state.savedHash = state.originalHash;
  }

  /** onSend: save or touch, then the cookie. Errors go to Fastify's error handling (the reply becomes the error). */
  async commit(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const state = stateOf(request);
    if (!state || state.committed) return;
    state.committed = true;
    const sess = request.session as FastifySession | null;
    if (!sess) return; // destroyed (or outside the cookie's path)
    sess.touch(); // the cookie's expiry moves forward, as at the end of every express-session request
    const { save, sendCookie } = this.decide(sess, state);
    if (save) await sess.save();
    else if (state.cookieId === sess.id) await this.store.touch(sess.id, sess as unknown as session.SessionData);
    // A secure cookie only over https (request.protocol honours Fastify's trustProxy).
    if (sendCookie && !(sess.cookie.secure && request.protocol !== 'https')) {
      // express-session's own serializer: byte for byte the Set-Cookie an Express server sends.
      const cookie = sess.cookie as ExpressCookie;
      reply.header('set-cookie', cookie.serialize(this.options.name, signSessionId(sess.id, this.options.secrets)));
    }
  }

  /** A new session on `request`: a new id, the configured cookie. */
  generate(request: FastifyRequest): void {
    const sid = this.options.genid(request);
    if (typeof sid !== 'string' || sid.length === 0) throw new TypeError(`fastifyLiveSession option "genid" must return a non-empty string, got ${typeof sid}`);
    setSessionId(request, sid);
    const sess = new FastifySession(request);
    const cookie = new Cookie(this.options.cookie);
    if (this.options.cookie.secure === 'auto') cookie.secure = request.protocol === 'https';
    sess.cookie = cookie;
    request.session = sess as FastifySession & Partial<session.SessionData>;
  }

  /**
   * express-session's rules. Save: a new session once modified (always with saveUninitialized), a
   * loaded one when it changed since loaded or last saved (always with resave). Cookie: a new
   * session's once it is stored; a loaded one's when rolling, or when a persistent cookie's session changed.
   */
  private decide(sess: FastifySession, state: RequestSessionState): { save: boolean; sendCookie: boolean } {
    const { saveUninitialized, rolling } = this.options;
    const hash = hashOf(sess);
    const modified = state.originalId !== sess.id || state.originalHash !== hash;
    const saved = state.originalId === sess.id && state.savedHash === hash;
    // Not the session the cookie named: a new one (no cookie, a stale one, or regenerated).
    const fromCookie = state.cookieId === sess.id;
    return {
      save: !fromCookie && !saveUninitialized && state.savedHash === undefined ? modified : !saved,
      sendCookie: fromCookie ? rolling || (sess.cookie.expires != null && modified) : saveUninitialized || modified,
    };
  }
}
