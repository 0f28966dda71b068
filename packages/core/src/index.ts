export { LiveSessionStore, type SessionState } from './store';
export type { LiveSessionStoreOptions } from './options';
export { LiveSessionError, type LiveSessionErrorCode } from './errors';
export { parseMessage, MESSAGE_FORMAT, type SessionMessage, type ChangeMessage, type DestroyMessage, type DestroyReason } from './message';
export { isWrongType, type RedisClient, type RedisConnection, type SubscriberConnection, type SubscriberEvents, type NodeRedisClient, type NodeRedisCluster } from './redis';
