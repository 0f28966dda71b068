/**
 * The app's SessionData augmentation flows to the socket side: views, handlers, per-key writes.
 * Type-checked by `pnpm run typecheck` (part of npm test); the runtime checks keep it honest.
 */
import type { Server, Socket } from 'socket.io';
import type { LiveSession, LiveSocketData, SessionView } from '../src';

declare module 'express-session' {
  interface SessionData {
    typedCart?: string[];
    typedUser?: { id: number; name: string };
  }
}

function typedUses(live: LiveSession, socket: Socket, io: Server<Record<string, never>, Record<string, never>, Record<string, never>, LiveSocketData>) {
  const view = live.sessionOf(socket);
  const cart: string[] | undefined = view?.typedCart;
  const name: string | undefined = view?.typedUser?.name;
  // @ts-expect-error: the augmentation says typedCart holds strings
  const wrong: number[] | undefined = view?.typedCart;
  const undeclared: unknown = view?.anythingElse;
  live.on('update', (_socket, session) => session.typedCart?.map((item) => item.toUpperCase()));
  void live.putSession(socket, 'typedCart', ['apple']);
  // @ts-expect-error: not a string[]
  void live.putSession(socket, 'typedCart', 42);
  void live.putSession(socket, 'notDeclared', { any: 'thing' });
  void live.updateSession(socket, 'typedCart', (current = []) => [...current, 'pear']);
  // @ts-expect-error: the updater must return string[] | undefined
  void live.updateSession(socket, 'typedCart', () => 42);
  void live.updateSession(socket, 'counter', (n: number = 0) => n + 1);
  io.on('connection', (typed) => {
    const data: SessionView | null = typed.data.session;
    return data?.typedCart;
  });
  return [cart, name, wrong, undeclared];
}

test('typed uses compile (see typecheck) and are plain functions at run time', () => {
  expect(typeof typedUses).toBe('function');
});
