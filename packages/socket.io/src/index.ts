export {
  createLiveSession,
  LiveSession,
  CLIENT_EVENTS,
  type LiveSessionOptions,
  type LiveSessionEvents,
  type SessionLike,
  type SessionTarget,
} from './live-session';
export type { SessionView, SessionChange } from './session-view';
