export { LiveSessionStore, type SessionState } from './store';
export type { UserSession } from './user-index';
export type { LiveSessionStoreOptions, CacheOption } from './options';
export {
  SessionReplica,
  FollowedSession,
  viewOf,
  type SessionFollower,
  type Follow,
  type FollowOutcome,
  type SessionView,
  type SessionValue,
  type SessionChange,
} from './replica';
export { LiveSessionError, type LiveSessionErrorCode } from './errors';
export { parseMessage, MESSAGE_FORMAT, type SessionMessage, type ChangeMessage, type ReloadMessage, type DestroyMessage, type DestroyReason } from './message';
export { isWrongType, type RedisClient, type RedisConnection, type SubscriberConnection, type SubscriberEvents, type NodeRedisClient, type NodeRedisCluster } from './redis';
export { convertToConnectRedis, type ConvertToConnectRedisOptions, type ConvertToConnectRedisResult } from './rollback';
export { watchSessions, SessionWatcher, type EventSource, type SessionEvent, type SessionEventType, type SessionEventHandlers, type WatchOptions } from './events';
export {
  SessionFeed,
  FeedConnection,
  sessionIdOfRequest,
  verifiedSessionId,
  signSessionId,
  checkCookieOptions,
  DEFAULT_COOKIE_NAME,
  resolveTransportOptions,
  optionChecks,
  transportCookie,
  TRANSPORT_OPTION_SPECS,
  type LiveTransportOptions,
  type TransportOptionSpec,
  type TransportOptionSpecs,
  type FeedSink,
  type SessionFeedOptions,
  type SignedCookieOptions,
} from './feed';
