export { createLiveSse, LiveSse, type LiveSseOptions, type LiveSseEvents } from './live-sse';
export { SSE_EVENTS } from './event-stream';
export type { SessionView, DestroyReason } from '@live-session/core';
