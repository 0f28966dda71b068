/**
 * A session's tombstone (only with the store's `events` option): a small string key the destroy
 * script (lua/destroy.lua) writes in the same script as its DEL, saying that the session was
 * destroyed, why, when and which life of it (`<type>:<at>:<createdAt>`). A watcher that finds the
 * session gone reads it (src/events/shard-pump.ts), so a destroy whose record has not reached the
 * shard yet (it is the next command, in another slot; or its server died before sending it) is
 * reported for what it was, not as an expiry.
 *
 * Its name must be in the session key's Cluster slot (a script may only touch keys of one slot) and
 * must never look like a session (a SCAN of the prefix would meet it: it starts with `{`, which a
 * store with events refuses as its prefix), whatever the session id holds. Redis hashes the content of a key's first
 * `{...}` if that is not empty, else the whole key; so:
 * - a key without `}` has no hash tag: `{<key>}:ended` (its hash tag is the whole key);
 * - a key with a hash tag `T`: `{T}:ended:<key>`;
 * - a key with a `}` but no hash tag (`p:a}b`, `p:{}x`) cannot be a hash tag itself: a short tag of
 *   digits hashing to the same slot stands for it, `{<digits>}:ended:<key>`.
 * Two sessions never share a tombstone: the key is in the name, and the three forms cannot meet
 * (the first has one `}`, the others at least two).
 */

/** The tombstone's name for a session key. */
export function tombstoneOf(key: string): string {
  const open = key.indexOf('{');
  const close = open === -1 ? -1 : key.indexOf('}', open + 1);
  if (close > open + 1) return `{${key.slice(open + 1, close)}}:ended:${key}`;
  if (!key.includes('}')) return `{${key}}:ended`;
  return `{${tagOfSlot(slotOf(key))}}:ended:${key}`;
}

/** The Cluster slot of a key with no hash tag (CRC16-XMODEM of its UTF-8 bytes, mod 16384). */
function slotOf(key: string): number {
  return crc16(Buffer.from(key, 'utf8')) & 0x3fff;
}

const tags = new Map<number, string>();

/** The smallest whole number whose decimal text hashes to `slot` (found once per slot, at most 109,758 tries: 0 to 109,757 cover every slot). */
function tagOfSlot(slot: number): string {
  let tag = tags.get(slot);
  if (tag === undefined) {
    for (let n = 0; ; n++) {
      if (slotOf(String(n)) === slot) {
        tag = String(n);
        break;
      }
    }
    tags.set(slot, tag);
  }
  return tag;
}

let table: Uint16Array | undefined;

function crc16(bytes: Uint8Array): number {
  if (!table) {
    table = new Uint16Array(256);
    for (let i = 0; i < 256; i++) {
      let crc = i << 8;
      for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
      table[i] = crc;
    }
  }
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ table[((crc >> 8) ^ byte) & 0xff];
  return crc;
}
