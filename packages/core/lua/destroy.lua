-- Deletes a session and publishes a destroy message, saying why, on its channel.
-- KEYS[1]: the session key (and channel). ARGV[1]: the publish command.
-- ARGV[2]: the reason: 'logout', 'expired' or 'revoked' (see src/message.ts).
-- Returns 1 when a session was deleted, 0 when there was none.
local version = tonumber(redis.call('HGET', KEYS[1], '$v') or 0)
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call(ARGV[1], KEYS[1], '{"format":1,"event":"destroy","version":' .. (version + 1) .. ',"reason":"' .. ARGV[2] .. '"}')
return 1
