/** The Lua scripts of the session events (lua/events/*.lua), each run on one shard's due key. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Script } from '../redis';

/** lua/ sits beside both src/ (tests) and dist/ (the published package). */
function lua(name: string): string {
  return readFileSync(join(__dirname, '..', '..', 'lua', 'events', `${name}.lua`), 'utf8');
}

/** Each script is lua/events/shard.lua (the shard's keys and helpers) followed by its own file. */
function script(name: string, file: string): Script {
  const source = lua('shard') + lua(file);
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

export const EVENT_SCRIPTS = {
  /** lua/events/record.lua: what a store records after a change. */
  record: script('liveSessionEventsRecord', 'record'),
  /** lua/events/poll.lua: a watcher claims due entries and reads events. */
  poll: script('liveSessionEventsPoll', 'poll'),
  /** lua/events/settle.lua: what a watcher found about the entries it claimed. */
  settle: script('liveSessionEventsSettle', 'settle'),
  /** lua/events/ack.lua: events handled. */
  ack: script('liveSessionEventsAck', 'ack'),
} as const;
