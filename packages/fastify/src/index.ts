import type session from 'express-session';
import type { FastifySession } from './session';

export { fastifyLiveSession } from './plugin';
export { FastifySession, type SessionCallback } from './session';
export type { FastifyLiveSessionOptions } from './options';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The session: express-session's API (`regenerate`, `destroy`, `reload`, `save`, `touch`, `cookie`,
     * `id`), each method also returning a promise; what it holds is typed by express-session's
     * SessionData (`declare module 'express-session' { interface SessionData { ... } }`).
     * Null after `destroy()`, and on a route outside the cookie's path.
     */
    session: FastifySession & Partial<session.SessionData>;
    /** The session's id (express-session's `req.sessionID`). */
    sessionID: string;
  }
}
