/** The Lua scripts (lua/*.lua), each run on one session key through the seam (redis/client.ts). */
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

/** Both scripts that return a session build it with lua/session-document.lua. */
export const SCRIPTS = {
  /** KEYS[1] the session; ARGV: nothing for the session document, or 'fields'. */
  get: script('liveSessionGet', lua('session-document') + lua('get')),
  write: script('liveSessionWrite', lua('session-document') + lua('write')),
  /** ARGV: publish command, reason. */
  destroy: script('liveSessionDestroy', lua('destroy')),
} as const;
