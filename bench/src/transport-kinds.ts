/** The receivers of fanout-transports beside socket.io's: the same store and replica, another transport (fanout-child.ts). */
export const SSE = 'live-session sse';
export const WS = 'live-session ws';
export type Transport = 'socket.io' | 'sse' | 'ws';
