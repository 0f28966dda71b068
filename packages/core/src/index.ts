export { LiveSessionStore, type SessionState } from './store';
export type { UserSession } from './user-index';
export type { LiveSessionStoreOptions } from './options';
export { LiveSessionError, type LiveSessionErrorCode } from './errors';
export { parseMessage, MESSAGE_FORMAT, type SessionMessage, type ChangeMessage, type ReloadMessage, type DestroyMessage, type DestroyReason } from './message';
export { isWrongType, type RedisClient, type RedisConnection, type SubscriberConnection, type SubscriberEvents, type NodeRedisClient, type NodeRedisCluster } from './redis';
export { convertToConnectRedis, type ConvertToConnectRedisOptions, type ConvertToConnectRedisResult } from './rollback';
export { watchSessions, SessionWatcher, type EventSource, type SessionEvent, type SessionEventType, type SessionEventHandlers, type WatchOptions } from './events';
