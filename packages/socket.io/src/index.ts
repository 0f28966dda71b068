export {
  createLiveSession,
  LiveSession,
  CLIENT_EVENTS,
  type LiveSessionOptions,
  type LiveSessionEvents,
  type SessionLike,
  type SessionTarget,
  type LiveSocketData,
} from './live-session';
export type { SessionView, SessionValue, SessionChange } from './session-view';
