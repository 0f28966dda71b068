-- Deletes a session and publishes a destroy message, saying why, on its channel.
-- KEYS[1]: the session key (and channel). ARGV[1]: the publish command.
-- ARGV[2]: the reason: 'logout', 'expired' or 'revoked' (see src/message.ts).
-- ARGV[3], only with a user index (src/user-index.ts): '*', or '=<user>' to delete the session only
-- if it belongs to <user>; the reply is then { 1, owner } when the deleted session had an owner.
-- Returns 1 when a session was deleted, 0 when there was none.
local version = tonumber(redis.call('HGET', KEYS[1], '$v') or 0)
local owner = ARGV[3] and redis.call('HGET', KEYS[1], '$u')
if ARGV[3] and ARGV[3] ~= '*' and owner ~= string.sub(ARGV[3], 2) then return 0 end
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
-- '%.0f': a version may have 16 digits (see lua/migrate.lua), which concatenation would round to 14.
redis.call(ARGV[1], KEYS[1], '{"format":1,"event":"destroy","version":' .. string.format('%.0f', version + 1) .. ',"reason":"' .. ARGV[2] .. '"}')
if owner then return { 1, owner } end
return 1
