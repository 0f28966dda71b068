/**
 * The app's SessionData augmentation flows to the writable keys and the server-side writes.
 * Type-checked by `pnpm run typecheck` (part of npm test); the runtime check keeps it honest.
 */
import type { WebSocket } from 'ws';
import type { LiveWs, LiveWsOptions } from '../src';

declare module 'express-session' {
  interface SessionData {
    typedCart?: string[];
    typedTheme?: 'light' | 'dark';
  }
}

const writable: LiveWsOptions['writable'] = {
  // `current` has the declared type; the result must be one.
  typedCart: (item, current) => (typeof item === 'string' ? [...(current ?? []), item] : current),
  typedTheme: (value) => (value === 'dark' ? 'dark' : 'light'),
  undeclared: (value) => value,
};
const wrong: LiveWsOptions['writable'] = {
  // @ts-expect-error: a string[] key cannot become a number
  typedCart: () => 42,
};

function typedUses(live: LiveWs, ws: WebSocket) {
  void live.updateSession(ws, 'typedCart', (current = []) => [...current, 'pear']);
  // @ts-expect-error: the updater must return string[] | undefined
  void live.updateSession(ws, 'typedCart', () => 42);
  const view = live.sessionOf(ws);
  const cart: string[] | undefined = view?.typedCart;
  return cart;
}

test('the typed uses compile, and are functions', () => {
  expect(typeof typedUses).toBe('function');
  expect(Object.keys(writable!)).toEqual(['typedCart', 'typedTheme', 'undeclared']);
  expect(Object.keys(wrong!)).toEqual(['typedCart']);
});
