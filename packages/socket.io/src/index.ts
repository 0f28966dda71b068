export {
  createLiveSession,
  LiveSession,
  CLIENT_EVENTS,
  type LiveSessionOptions,
  type LiveSessionEvents,
  type SessionLike,
  type SessionTarget,
  type LiveSocketData,
  type HandlerResult,
} from './live-session';
export type { SessionView, SessionValue, SessionChange } from '@live-session/core';
