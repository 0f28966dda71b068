export { watchSessions, SessionWatcher, type EventSource } from './watcher';
export type { SessionEvent, SessionEventType, SessionEventHandlers } from './event';
export type { WatchOptions } from './watch-options';
