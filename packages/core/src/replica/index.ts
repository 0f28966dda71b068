/** The replica: how this process keeps the sessions it follows true (see replica.ts). */
export { SessionReplica, type ChannelListener, type SessionFollower, type Follow, type FollowOutcome, type ReplicaHost } from './replica';
export { FollowedSession } from './followed-session';
export { viewOf, applyChange, diffViews, type SessionView, type SessionValue, type SessionChange } from './session-view';
