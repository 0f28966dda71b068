-- Reads a session and refreshes its lifetime in the same round trip.
-- KEYS[1]: the session key. ARGV[1]: the store's lifetime in ms.
-- Returns nil when there is no session, else { pttl, field1, value1, field2, value2, ... }.
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return nil end
local cookie = nil
for i = 1, #fields, 2 do
  if fields[i] == 'cookie' then cookie = fields[i + 1] break end
end
refresh_expiry(KEYS[1], cookie, tonumber(ARGV[1]))
local reply = { redis.call('PTTL', KEYS[1]) }
for i = 1, #fields do reply[i + 1] = fields[i] end
return reply
