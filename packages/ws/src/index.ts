export { createLiveWs, LiveWs, type LiveWsOptions, type LiveWsEvents, type KeyWriter, type WritableKeys } from './live-ws';
export { CLOSE_CODES, GOING_AWAY, type WriteReply } from './protocol';
export type { LiveSocket, UpgradeServer } from './socket-connection';
export type { SessionView, SessionValue, DestroyReason } from '@live-session/core';
