-- Deletes a session and publishes a destroy message, saying why, on its channel.
-- KEYS[1]: the session key (and channel). ARGV[1]: the publish command.
-- ARGV[2]: the reason: 'logout', 'expired' or 'revoked' (see src/message.ts).
-- ARGV[3], only with a user index (src/user-index.ts): '*', or '=<user>' to delete the session only
-- if it belongs to <user>; the reply is then { 1, owner } when the deleted session had an owner.
-- With the store's `events` option only (src/events/recorder.ts), ARGV[3] is '' without a user index,
-- and: ARGV[4] the session's tombstone (src/events/tombstone.ts: a key of KEYS[1]'s slot), ARGV[5]
-- '<event type>:<ms>' (what and when), ARGV[6] how long (ms) the tombstone outlives the session's
-- expiry. A deleted session leaves its tombstone, '<event type>:<ms>:<createdAt>', written with the
-- DEL by this one script: a watcher that finds the session gone before the store's record of its end
-- reached the shard (or that never comes: its server died) reads why there (src/events/shard-pump.ts).
-- Returns 1 when a session was deleted, 0 when there was none.
local spec = ARGV[3]
if spec == '' then spec = nil end
local tombstone = ARGV[4]
local version, owner, created, ttl
if tombstone then
  local read = spec and redis.call('HMGET', KEYS[1], '$v', '$c', '$u') or redis.call('HMGET', KEYS[1], '$v', '$c')
  version, created, owner = tonumber(read[1] or 0), read[2], spec and read[3]
  ttl = redis.call('PTTL', KEYS[1])
else
  version = tonumber(redis.call('HGET', KEYS[1], '$v') or 0)
  owner = spec and redis.call('HGET', KEYS[1], '$u')
end
if spec and spec ~= '*' and owner ~= string.sub(spec, 2) then return 0 end
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
-- '%.0f': a version may have 16 digits (see lua/migrate.lua), which concatenation would round to 14.
redis.call(ARGV[1], KEYS[1], '{"format":1,"event":"destroy","version":' .. string.format('%.0f', version + 1) .. ',"reason":"' .. ARGV[2] .. '"}')
if tombstone then
  redis.call('SET', tombstone, ARGV[5] .. ':' .. (created or '0'), 'PX', math.max(ttl, 0) + tonumber(ARGV[6]))
end
if owner then return { 1, owner } end
return 1
