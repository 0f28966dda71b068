-- Turns one session hash back into connect-redis's layout (a JSON string), for a rollback.
-- KEYS[1]: the session key. ARGV[1]: connect-redis's JSON text of the session; then the hash's
-- field/value pairs as src/rollback.ts read them.
-- Only if the hash still holds exactly those fields (nothing written since: a live-session server
-- still running may have), replaces it by the string with the hash's remaining TTL.
-- Returns 1 when converted, 0 when the hash changed or is gone (read it again).
local key = KEYS[1]
if redis.call('TYPE', key).ok ~= 'hash' then return 0 end
local stored = redis.call('HGETALL', key)
if #stored ~= #ARGV - 1 then return 0 end
local expected = {}
for i = 2, #ARGV, 2 do expected[ARGV[i]] = ARGV[i + 1] end
for i = 1, #stored, 2 do
  if expected[stored[i]] ~= stored[i + 1] then return 0 end
end
local pttl = redis.call('PTTL', key)
redis.call('DEL', key)
if pttl > 0 then
  redis.call('SET', key, ARGV[1], 'PX', pttl)
else
  redis.call('SET', key, ARGV[1])
end
return 1
