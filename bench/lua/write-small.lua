-- A PROTOTYPE for the ceiling benchmark (bench/src/ceiling.ts), not used by the store: packages/core's
-- lua/write.lua trimmed to what a hot save needs, to measure what a smaller write script costs Redis.
-- Same semantics as write.lua for what it keeps (patch/replace, versioned change message published last,
-- no write to a session that is gone, the expect compare-and-set, the size limit), with:
--   * one HMGET for '$v', '$t', the expected field and every field to set (write.lua: HGET '$v',
--     HGET expect, HMGET fields, HGET '$t': up to four calls);
--   * no size pass when max bytes is 0 (as write.lua), and none of the session_document code;
--   * no session returned: the reply is the new version (an integer), or -1 gone, -2 conflict,
--     or { 'too_large', bytes }.
-- KEYS[1]: the session key (and channel). ARGV[1], the header:
--   "<mode> <expiry kind> <expiry ms> <max bytes> <publish command> <now ms> <fields to set> <fields to delete> <expect>"
-- then [expect field, expect value], the field/value pairs to set, the field names to delete.
local key = KEYS[1]
local mode, expiry_kind, expiry_ms, max_bytes, publish, now, n_set, n_del, expect =
  string.match(ARGV[1], '^(%a+) (%a+) (%-?%d+) (%d+) (%a+) (%d+) (%d+) (%d+) ([01])$')
if not mode then return redis.error_reply('live-session: bad write header "' .. ARGV[1] .. '"') end
max_bytes, n_set, n_del = tonumber(max_bytes), tonumber(n_set), tonumber(n_del)
local first_set = 2
if expect == '1' then first_set = 4 end
local first_del = first_set + 2 * n_set

-- One read: '$v', '$t', [the expected field], then every field to set.
local wanted = { '$v', '$t' }
if expect == '1' then wanted[3] = ARGV[2] end
local offset = #wanted
for i = first_set, first_del - 1, 2 do wanted[#wanted + 1] = ARGV[i] end
local current = redis.call('HMGET', key, unpack(wanted))
local stored_version = current[1]
local exists = stored_version ~= false
if mode == 'patch' and not exists then return -1 end
if expect == '1' and (current[3] or '') ~= ARGV[3] then return -2 end

local deletions = {}
for i = first_del, first_del + n_del - 1 do deletions[#deletions + 1] = ARGV[i] end
if mode == 'replace' and exists then
  local given = {}
  for i = first_set, first_del - 1, 2 do given[ARGV[i]] = true end
  for _, field in ipairs(redis.call('HKEYS', key)) do
    local a, b = string.byte(field, 1, 2)
    if (a ~= 36 or b == 36) and not given[field] then deletions[#deletions + 1] = field end
  end
end

if max_bytes > 0 then
  local stored = {}
  if exists then
    local all = redis.call('HGETALL', key)
    for i = 1, #all, 2 do stored[all[i]] = all[i + 1] end
  end
  for _, field in ipairs(deletions) do stored[field] = nil end
  for i = first_set, first_del - 1, 2 do stored[ARGV[i]] = ARGV[i + 1] end
  local size = 0
  for field, value in pairs(stored) do size = size + #field + #value end
  if size > max_bytes then return { 'too_large', size } end
end

-- Only what differs is written; application fields other than 'cookie' are published.
local parts, unset, changed, writes, n = {}, {}, false, {}, 0
for i = first_set, first_del - 1, 2 do
  local field, value = ARGV[i], ARGV[i + 1]
  n = n + 1
  if current[offset + n] ~= value then
    writes[#writes + 1] = field
    writes[#writes + 1] = value
    local a, b = string.byte(field, 1, 2)
    if field ~= 'cookie' and (a ~= 36 or b == 36) then
      if a == 36 then field = string.sub(field, 2) end
      parts[#parts + 1] = cjson.encode(field) .. ':' .. value
      changed = true
    end
  end
end
if #deletions > 0 then
  for _, field in ipairs(deletions) do
    if redis.call('HDEL', key, field) == 1 then
      local a, b = string.byte(field, 1, 2)
      if field ~= 'cookie' and (a ~= 36 or b == 36) then
        if a == 36 then field = string.sub(field, 2) end
        unset[#unset + 1] = cjson.encode(field)
        changed = true
      end
    end
  end
end

local version = tonumber(stored_version) or 0
if changed then version = version + 1 end
if changed or not exists then
  writes[#writes + 1] = '$v'
  writes[#writes + 1] = version
end
if not exists then
  writes[#writes + 1] = '$c'
  writes[#writes + 1] = now
end
if #writes > 0 then redis.call('HSET', key, unpack(writes)) end

if expiry_kind == 'at' then
  redis.call('PEXPIREAT', key, expiry_ms)
elseif expiry_kind == 'in' then
  redis.call('PEXPIRE', key, expiry_ms)
elseif current[2] then
  redis.call('PEXPIRE', key, current[2])
end

if changed then
  redis.call(publish, key, '{"format":1,"event":"change","version":' .. version ..
    ',"set":{' .. table.concat(parts, ',') .. '},"unset":[' .. table.concat(unset, ',') .. ']}')
end
return version
