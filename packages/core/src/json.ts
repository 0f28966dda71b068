/**
 * JSON of one member of an object exactly as `JSON.stringify(holder)` writes it: a value's
 * `toJSON` is called with the member's key (`JSON.stringify(value)` alone would pass "").
 */

/** The JSON text of `value` as the member `key` of an object; undefined when JSON leaves the member out. Throws as JSON.stringify does. */
export function stringifyMember(key: string, value: unknown): string | undefined {
  if (!hasOwnToJSON(value)) return JSON.stringify(value) as string | undefined;
  // A computed key is always an own property, "__proto__" included.
  const text = JSON.stringify({ [key]: value });
  return text === '{}' ? undefined : text.slice(JSON.stringify(key).length + 2, -1);
}

/** A toJSON that may look at its key: every one but Date's (the common case, kept fast). */
function hasOwnToJSON(value: unknown): boolean {
  if ((typeof value !== 'object' || value === null) && typeof value !== 'bigint') return false;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  return typeof toJSON === 'function' && toJSON !== Date.prototype.toJSON;
}
