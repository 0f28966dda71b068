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

/** Both scripts that return a session build it with lua/session-document.lua. */
const SCRIPTS = {
  liveSessionGet: lua('session-document') + lua('get'),
  liveSessionWrite: lua('session-document') + lua('write'),
  liveSessionDestroy: lua('destroy'),
  liveSessionTouch: lua('touch'),
  liveSessionMigrate: lua('migrate'),
} as const;

type Reply = unknown;

/** The commands `defineCommand` adds, each taking the session key and then its ARGV. */
export interface ScriptCommands {
  /** Without `format`, the session document (lua/session-document.lua). */
  liveSessionGet(key: string, format?: 'fields'): Promise<Reply>;
  /** `args` as one array (ioredis flattens it): a spread of 100,000 arguments overflows the call stack. */
  liveSessionWrite(key: string, args: readonly string[]): Promise<Reply>;
  liveSessionDestroy(key: string, publish: string, reason: DestroyReason): Promise<Reply>;
  liveSessionTouch(key: string): Promise<Reply>;
  /** lua/migrate.lua: a connect-redis string to the hash layout (see src/legacy.ts). */
  liveSessionMigrate(key: string, ...args: string[]): Promise<Reply>;
}

export function defineScripts(client: RedisClient): ScriptCommands {
  for (const [name, source] of Object.entries(SCRIPTS)) {
    client.defineCommand(name, { numberOfKeys: 1, lua: source });
  }
  return client as unknown as ScriptCommands;
}
