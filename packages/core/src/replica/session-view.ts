/**
 * A session as its followers see it: the session's data without the cookie (express-session's
 * transport detail, never published), as immutable snapshots, one per version.
 *
 * Views are frozen all the way down: one view is shared by every follower of the session (every
 * socket, stream and the store's cache), so a follower that changed a nested value would change it
 * for all of them, and the store's cache would then serve data Redis never held.
 */
import type { SessionData } from 'express-session';
import type { ChangeMessage } from '../message';

/**
 * A session as followers see it: the app's `SessionData` (as its `declare module 'express-session'`
 * augmentation declares it) without the cookie, read-only; keys it did not declare are `unknown`.
 */
export type SessionView = Readonly<Omit<Partial<SessionData>, 'cookie'>> & Readonly<Record<string, unknown>>;

/** The type the app declared for a session key in its SessionData augmentation, else unknown. */
export type SessionValue<K extends string> = K extends keyof SessionData ? SessionData[K] : unknown;

/** What changed between two versions: the same shape as a change message. */
export interface SessionChange {
  version: number;
  /** New values of the keys that changed. */
  set: Readonly<Record<string, unknown>>;
  /** Keys that were removed. */
  unset: readonly string[];
}

export const EMPTY_VIEW: SessionView = Object.freeze({});

/** The view of a full session as the store read it (its values are fresh from JSON: frozen here). */
export function viewOf(session: object): SessionView {
  const view: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(session)) {
    if (key !== 'cookie') define(view, key, deepFreeze(value));
  }
  return Object.freeze(view);
}

/** The next view after a change message (whose values are fresh from JSON.parse: frozen here). */
export function applyChange(view: SessionView, change: ChangeMessage): SessionView {
  for (const key of Object.keys(change.set)) deepFreeze(change.set[key]);
  // The usual change only sets keys: spread copies in one step, and like define it creates own
  // data properties (a "__proto__" key stays data).
  if (change.unset.length === 0) return Object.freeze({ ...view, ...change.set });
  const next: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(view)) {
    if (!change.unset.includes(key)) define(next, key, value);
  }
  for (const [key, value] of Object.entries(change.set)) define(next, key, value);
  return Object.freeze(next);
}

/** The change that turns `before` into `after` (used when a whole session was read again). */
export function diffViews(before: SessionView, after: SessionView, version: number): SessionChange {
  const set: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(after)) {
    if (!Object.hasOwn(before, key) || JSON.stringify(before[key]) !== JSON.stringify(value)) define(set, key, value);
  }
  const unset = Object.keys(before).filter((key) => !Object.hasOwn(after, key));
  return { version, set, unset };
}

/** A key such as "__proto__" stays data: never assigned, always defined. */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Freezes a JSON value and everything in it (JSON has no cycles). */
function deepFreeze(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  if (Array.isArray(value)) for (const item of value) deepFreeze(item);
  else for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return value;
}
