/** The Lua scripts (lua/*.lua), registered on the client with ioredis `defineCommand` (sent as EVALSHA). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster, Redis } from 'ioredis';
import type { DestroyReason } from './message';

export type RedisClient = Redis | Cluster;

/** lua/ sits beside both src/ (tests) and dist/ (the published package). */
function lua(name: string): string {
  return readFileSync(join(__dirname, '..', 'lua', `${name}.lua`), 'utf8');
}

/**
 * Both scripts that return a session build it with lua/session-document.lua. The scripts that move
 * a session's expiry keep the user index's deadline (lua/user-index-session.lua, with `userOf` only).
 */
const SCRIPTS = {
  liveSessionGet: lua('session-document') + lua('user-index-session') + lua('get'),
  liveSessionWrite: lua('session-document') + lua('user-index-session') + lua('write'),
  liveSessionDestroy: lua('destroy'),
  liveSessionMigrate: lua('migrate'),
  liveSessionIndexConfirm: lua('user-index-confirm'),
  liveSessionIndex: lua('user-index'),
  liveSessionTouch: lua('user-index-session') + lua('touch'),
} as const;

type Reply = unknown;

/** The commands `defineCommand` adds, each taking the session key and then its ARGV. */
export interface ScriptCommands {
  /** Without `format`, the session document (lua/session-document.lua). */
  liveSessionGet(key: string, format?: 'fields' | 'document', indexSpec?: string): Promise<Reply>;
  /** `args` as one array (ioredis flattens it): a spread of 100,000 arguments overflows the call stack. */
  liveSessionWrite(key: string, args: readonly string[]): Promise<Reply>;
  liveSessionDestroy(key: string, publish: string, reason: DestroyReason, ...indexOwner: string[]): Promise<Reply>;
  /** lua/migrate.lua: a connect-redis string to the hash layout (see src/legacy.ts). */
  liveSessionMigrate(key: string, ...args: string[]): Promise<Reply>;
  /** lua/user-index-confirm.lua, on a session key. */
  liveSessionIndexConfirm(key: string, user: string, deadline: number, expiry: number, info: string): Promise<Reply>;
  /** lua/user-index.lua, on a user's index key. */
  liveSessionIndex(key: string, ...args: (string | number)[]): Promise<Reply>;
  liveSessionTouch(key: string, indexSpec?: string): Promise<Reply>;
}

export function defineScripts(client: RedisClient): ScriptCommands {
  for (const [name, source] of Object.entries(SCRIPTS)) {
    client.defineCommand(name, { numberOfKeys: 1, lua: source });
  }
  return client as unknown as ScriptCommands;
}
