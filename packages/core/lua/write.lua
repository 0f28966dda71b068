-- Writes a change to one session atomically, then publishes it on the channel named like the key.
-- KEYS[1]: the session key (and channel).
-- ARGV: mode ('patch': the session must exist; 'replace': the given fields become the whole session),
--       expiry kind ('at': PEXPIREAT ms, 'in': PEXPIRE ms, 'auto': from the stored cookie, ms = lifetime),
--       expiry ms, max bytes (0: no limit), return the session ('1'/'0'), publish command,
--       now ms, expected field ('' for none), its expected value ('' when it must be absent),
--       number of fields to set, number of fields to delete, then field/value pairs, then field names.
-- Field names: an application key starting with '$' is stored as '$' .. key; every other field
-- starting with '$' is metadata ('$v' version, '$c' creation time in ms).
-- Returns { 'ok', version, pttl, field1, value1, ... }, { 'gone' }, { 'conflict' } or { 'too_large', bytes }.
local key = KEYS[1]
local mode, expiry_kind, expiry_ms = ARGV[1], ARGV[2], tonumber(ARGV[3])
local max_bytes, want_session, publish = tonumber(ARGV[4]), ARGV[5] == '1', ARGV[6]
local now, expect_field, expect_value = ARGV[7], ARGV[8], ARGV[9]
local n_set, n_del = tonumber(ARGV[10]), tonumber(ARGV[11])
local first_del = 12 + 2 * n_set

local exists = redis.call('EXISTS', key) == 1
if mode == 'patch' and not exists then return { 'gone' } end

if expect_field ~= '' then
  local current = redis.call('HGET', key, expect_field) or ''
  if current ~= expect_value then return { 'conflict' } end
end

local function is_meta(field)
  return string.byte(field, 1) == 36 and string.byte(field, 2) ~= 36 -- '$' then anything but '$'
end
local function app_key(field)
  if string.byte(field, 1) == 36 then return string.sub(field, 2) end
  return field
end

-- Fields to delete: those named, plus (replace) every stored application field not given.
local new_values, deletions = {}, {}
for i = 12, first_del - 1, 2 do new_values[ARGV[i]] = ARGV[i + 1] end
for i = first_del, first_del + n_del - 1 do deletions[#deletions + 1] = ARGV[i] end
if mode == 'replace' and exists then
  for _, field in ipairs(redis.call('HKEYS', key)) do
    if not is_meta(field) and new_values[field] == nil then deletions[#deletions + 1] = field end
  end
end

-- The size limit is checked before anything is written: a script cannot roll back.
if max_bytes > 0 then
  local stored = {}
  if exists then
    local all = redis.call('HGETALL', key)
    for i = 1, #all, 2 do stored[all[i]] = all[i + 1] end
  end
  for _, field in ipairs(deletions) do stored[field] = nil end
  for field, value in pairs(new_values) do stored[field] = value end
  local size = 0
  for field, value in pairs(stored) do size = size + #field + #value end
  if size > max_bytes then return { 'too_large', size } end
end

local set_parts, unset_parts, changed = {}, {}, false
for i = 12, first_del - 1, 2 do
  local field, value = ARGV[i], ARGV[i + 1]
  if redis.call('HGET', key, field) ~= value then
    redis.call('HSET', key, field, value)
    if field ~= 'cookie' then
      set_parts[#set_parts + 1] = cjson.encode(app_key(field)) .. ':' .. value
      changed = true
    end
  end
end
for _, field in ipairs(deletions) do
  if redis.call('HDEL', key, field) == 1 and field ~= 'cookie' then
    unset_parts[#unset_parts + 1] = cjson.encode(app_key(field))
    changed = true
  end
end

if not exists then redis.call('HSET', key, '$v', 0, '$c', now) end
local version = tonumber(redis.call('HGET', key, '$v') or 0)
if changed then version = redis.call('HINCRBY', key, '$v', 1) end

if expiry_kind == 'at' then
  redis.call('PEXPIREAT', key, expiry_ms)
elseif expiry_kind == 'in' then
  redis.call('PEXPIRE', key, expiry_ms)
else
  refresh_expiry(key, redis.call('HGET', key, 'cookie') or nil, expiry_ms)
end

-- Published last: subscribers receive it after the script ends, so a reader that gets the message
-- and then reads the session sees this write or a later one.
if changed then
  redis.call(publish, key, '{"format":1,"event":"change","version":' .. version ..
    ',"set":{' .. table.concat(set_parts, ',') .. '},"unset":[' .. table.concat(unset_parts, ',') .. ']}')
end

local reply = { 'ok', version, redis.call('PTTL', key) }
if want_session then
  for _, item in ipairs(redis.call('HGETALL', key)) do reply[#reply + 1] = item end
end
return reply
