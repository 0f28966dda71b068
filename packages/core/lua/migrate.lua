-- Moves a session that connect-redis stored (one JSON string: SET key json EX ttl) to this store's
-- hash layout. src/legacy.ts reads the string, decodes and encodes it, then swaps it here.
-- KEYS[1]: the session key (and channel); no other key is named (one Redis Cluster slot).
-- ARGV[1] 'read': returns { type } or, for a string, { 'string', value }.
-- ARGV[1] 'swap': ARGV[2] the string as read; ARGV[3] "<fallback kind> <fallback ms> <publish command>";
--   then the hash's field/value pairs (none: the string is discarded).
--   Only if the key still holds exactly ARGV[2] (a connect-redis server may have written it since:
--   nothing it wrote is lost), replaces it by the hash, keeping its remaining TTL (a string without
--   one gets the fallback, 'at' PEXPIREAT or 'in' PEXPIRE: this store never keeps a session without
--   an expiry), and publishes a change message with every key.
--   Returns 'swapped', 'changed' (read it again) or 'moved' (no longer a string: migrated meanwhile).
local key = KEYS[1]
local kind = redis.call('TYPE', key).ok
if ARGV[1] == 'read' then
  if kind ~= 'string' then return { kind } end
  return { kind, redis.call('GET', key) }
end
if kind ~= 'string' then return 'moved' end
if redis.call('GET', key) ~= ARGV[2] then return 'changed' end
local fallback_kind, fallback_ms, publish = string.match(ARGV[3], '^(%a+) (%-?%d+) (%a+)$')
if not fallback_kind then return redis.error_reply('live-session: bad migrate header "' .. ARGV[3] .. '"') end
local pttl = redis.call('PTTL', key)
redis.call('DEL', key)
-- The version starts at the clock in microseconds: a session that a connect-redis server rewrote
-- over its hash (a rolling deploy) comes back with a higher version than any its subscribers saw,
-- so they see a gap and read it again, rather than taking its next changes for old ones. Each write
-- moves the version by one and takes Redis more than a microsecond, so no run of writes since the
-- last migration can outpace it (in milliseconds a busy session's did). As text: 16 digits, which
-- Lua's number-to-text (14 significant digits) would round.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local version = time[1] .. string.format('%06d', tonumber(time[2]))
-- Discarded, or without a TTL and past its cookie's expiry: nothing to keep.
if #ARGV < 4 or (pttl < 0 and fallback_kind == 'at' and tonumber(fallback_ms) <= now) then return 'swapped' end
local writes, set_parts = { '$v', version, '$c', now }, {}
for i = 4, #ARGV, 2 do
  local field, value = ARGV[i], ARGV[i + 1]
  writes[#writes + 1] = field
  writes[#writes + 1] = value
  local first, second = string.byte(field, 1, 2)
  if field ~= 'cookie' and (first ~= 36 or second == 36) then -- an application key ('$$' escapes a '$')
    if first == 36 then field = string.sub(field, 2) end
    set_parts[#set_parts + 1] = cjson.encode(field) .. ':' .. value
  end
end
redis.call('HSET', key, unpack(writes))
if pttl > 0 then
  redis.call('PEXPIRE', key, pttl)
elseif fallback_kind == 'at' then
  redis.call('PEXPIREAT', key, fallback_ms)
else
  redis.call('PEXPIRE', key, fallback_ms)
end
redis.call(publish, key, '{"format":1,"event":"change","version":' .. version .. ',"set":{' .. table.concat(set_parts, ',') .. '},"unset":[]}')
return 'swapped'
