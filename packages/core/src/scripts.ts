/** The Lua scripts (lua/*.lua), each run on one key through the seam (redis/client.ts). */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Script } from './redis';

/** lua/ sits beside both src/ (tests) and dist/ (the published package). */
function lua(name: string): string {
  return readFileSync(join(__dirname, '..', 'lua', `${name}.lua`), 'utf8');
}

function script(name: string, source: string): Script {
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * The get script returns a session built by lua/session-document.lua (one JSON text: the cheapest
 * reply for ioredis to decode); the write script returns the raw hash (cheaper for Redis). The
 * scripts that move a session's expiry keep the user index's deadline (lua/user-index-session.lua,
 * with `userOf` only).
 * Every script names exactly one key: a session's, or (index) a user's index.
 */
export const SCRIPTS = {
  /** ARGV: nothing; with a user index 'document', then the index spec ('?'). */
  get: script('liveSessionGet', lua('session-document') + lua('user-index-session') + lua('get')),
  /** ARGV: the header and fields (lua/write.lua), as one array: a spread of 100,000 arguments overflows the call stack. */
  write: script('liveSessionWrite', lua('user-index-session') + lua('write')),
  /** ARGV: publish command, reason[, the owner to check: '*' or '=<user>']. */
  destroy: script('liveSessionDestroy', lua('destroy')),
  /** ARGV: the expiry (ms since the epoch): a touch with the `touchAfter` option. */
  refresh: script('liveSessionRefresh', lua('refresh')),
  /** ARGV: nothing, or the index spec. */
  touch: script('liveSessionTouch', lua('user-index-session') + lua('touch')),
  /** lua/migrate.lua: a connect-redis string to the hash layout (see src/legacy.ts). */
  migrate: script('liveSessionMigrate', lua('migrate')),
  /** lua/user-index-confirm.lua, on a session key. */
  indexConfirm: script('liveSessionIndexConfirm', lua('user-index-confirm')),
  /** lua/user-index.lua, on a user's index key. */
  index: script('liveSessionIndex', lua('user-index')),
  /** lua/rollback.lua: a session hash back to connect-redis's string (src/rollback.ts). */
  rollback: script('liveSessionRollback', lua('rollback')),
} as const;
