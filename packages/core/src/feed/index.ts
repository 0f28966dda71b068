/** What the live transports other than socket.io (@live-session/sse, @live-session/ws) share: see session-feed.ts and request-session.ts. */
export { SessionFeed, FeedConnection, type FeedSink, type SessionFeedOptions } from './session-feed';
export { sessionIdOfRequest, verifiedSessionId, signSessionId, checkCookieOptions, DEFAULT_COOKIE_NAME, type SignedCookieOptions } from './request-session';
export { resolveTransportOptions, optionChecks, transportCookie, TRANSPORT_OPTION_SPECS, type LiveTransportOptions, type TransportOptionSpec, type TransportOptionSpecs } from './transport-options';
