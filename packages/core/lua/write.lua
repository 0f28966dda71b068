-- Writes a change to one session atomically, then publishes it on the channel named like the key.
-- KEYS[1]: the session key (and channel).
-- ARGV[1], the header (one argument: ioredis's cost per argument is what a write mostly costs it):
--   "<mode> <expiry kind> <expiry ms> <max bytes> <max message bytes> <want session> <publish command>
--    <now ms> <fields to set> <fields to delete> <expect> <record expiry>", where
--   mode: 'patch' (the session must exist) or 'replace' (the given fields become the whole session);
--   expiry kind: 'at' (PEXPIREAT ms), 'in' (PEXPIRE ms) or 'keep' (by the stored '$t' field, if any);
--   max bytes: 0 for no limit; max message bytes: past it, a reload message replaces the change;
--   want session: 1 to return the session; expect: 1 when ARGV[2] and ARGV[3] are a field and the
--   value it must hold ('' when it must be absent), else 0; record expiry: 1 to record the new
--   expiry in '$e' (the store's touchAfter measures from it), 0 to record it only when the session
--   has no refresh interval (a fixed expiry: a read learns it from '$e' alone).
-- Then the field/value pairs to set, then the field names to delete, then, only with a user index
-- (src/user-index.ts), the spec of index_session (lua/user-index-session.lua); 'ok' then carries the
-- owner and index_session's request, if any: { 'ok', version, session or nil, owner or nil
-- [, kind, user, previous user, expiry, now] }.
-- Field names: an application key starting with '$' is stored as '$' .. key, one that is not
-- well-formed UTF-16 as '$' .. its JSON text (see src/fields.ts); every other field starting with
-- '$' is metadata ('$v' version, '$c' creation time in ms, '$t' refresh interval, '$e' expiry).
-- Only application fields other than 'cookie' are published, and only they move the version.
-- Every check that can fail runs before the first write: a script cannot roll back.
-- Returns { 'ok', version [, the session as session_document's JSON text] }, { 'gone' }, { 'conflict' } or { 'too_large', bytes }.
local key = KEYS[1]
local mode, expiry_kind, expiry_ms, max_bytes, max_message, want_session, publish, now, n_set, n_del, expect, record =
  string.match(ARGV[1], '^(%a+) (%a+) (%-?%d+) (%d+) (%d+) ([01]) (%a+) (%d+) (%d+) (%d+) ([01]) ([01])$')
if not mode then return redis.error_reply('live-session: bad write header "' .. ARGV[1] .. '"') end
max_bytes, max_message, want_session, n_set, n_del = tonumber(max_bytes), tonumber(max_message), want_session == '1', tonumber(n_set), tonumber(n_del)
local expect_field, expect_value, first_set = '', '', 2
if expect == '1' then expect_field, expect_value, first_set = ARGV[2], ARGV[3], 4 end
local first_del = first_set + 2 * n_set

-- Lua's unpack, and so one command's arguments, stops at about 8,000 values: commands over many
-- fields go in chunks of this many (an even number: HSET takes pairs).
local CHUNK = 1000
local function call_chunked(command, list)
  local n = #list
  if n == 0 then return end
  if n <= CHUNK then
    redis.call(command, key, unpack(list))
    return
  end
  for i = 1, n, CHUNK do redis.call(command, key, unpack(list, i, math.min(i + CHUNK - 1, n))) end
end
local function hmget(fields)
  local n = #fields
  if n == 0 then return {} end
  if n <= CHUNK then return redis.call('HMGET', key, unpack(fields)) end
  local values = {}
  for i = 1, n, CHUNK do
    local part = redis.call('HMGET', key, unpack(fields, i, math.min(i + CHUNK - 1, n)))
    for j = 1, #part do values[i + j - 1] = part[j] end
  end
  return values
end

local function is_meta(field)
  local first, second = string.byte(field, 1, 2)
  return first == 36 and second ~= 36 and second ~= 34 -- '$' then anything but '$' or '"'
end
local function published(field)
  return field ~= 'cookie' and not is_meta(field)
end
-- The application key of a field, as JSON text.
local function json_key(field)
  local first, second = string.byte(field, 1, 2)
  if first ~= 36 then return cjson.encode(field) end
  if second == 34 then return string.sub(field, 2) end
  return cjson.encode(string.sub(field, 2))
end

local set_fields, set_values, given = {}, {}, {}
for i = first_set, first_del - 1, 2 do
  set_fields[#set_fields + 1] = ARGV[i]
  set_values[#set_values + 1] = ARGV[i + 1]
  given[ARGV[i]] = true
end

-- Everything the write reads of the session, in one HMGET: '$v' (every session has it: it tells
-- whether the session exists), '$t' and '$e' (the expiry), the expected field, the fields to set
-- (only what differs is written) and the fields named for deletion (only those that exist).
local probe = { '$v', '$t', '$e' }
if expect_field ~= '' then probe[4] = expect_field end
local first_probe_set = #probe + 1
for i = 1, #set_fields do probe[#probe + 1] = set_fields[i] end
local first_probe_del = #probe + 1
for i = first_del, first_del + n_del - 1 do probe[#probe + 1] = ARGV[i] end
local read = hmget(probe)

local stored_version = read[1]
local exists = stored_version ~= false
if mode == 'patch' and not exists then return { 'gone' } end
if expect_field ~= '' and (read[4] or '') ~= expect_value then return { 'conflict' } end

-- Fields to delete: those named that exist, plus (replace) every stored application field not given.
local deletions = {}
for i = first_probe_del, #probe do
  if read[i] then deletions[#deletions + 1] = probe[i] end
end
if mode == 'replace' and exists then
  for _, field in ipairs(redis.call('HKEYS', key)) do
    if not is_meta(field) and not given[field] then deletions[#deletions + 1] = field end
  end
end

if max_bytes > 0 then
  local stored = {}
  if exists then
    local all = redis.call('HGETALL', key)
    for i = 1, #all, 2 do stored[all[i]] = all[i + 1] end
  end
  for _, field in ipairs(deletions) do stored[field] = nil end
  for i, field in ipairs(set_fields) do stored[field] = set_values[i] end
  local size = 0
  for field, value in pairs(stored) do size = size + #field + #value end
  if size > max_bytes then return { 'too_large', size } end
end

-- Only what really differs from the stored values is written and published. The change message
-- is built only while it stays under max message bytes; past that, a reload message is published.
local set_parts, unset_parts, changed, writes = {}, {}, false, {}
local message_bytes, reload = 80, false
for i, field in ipairs(set_fields) do
  if read[first_probe_set + i - 1] ~= set_values[i] then
    writes[#writes + 1] = field
    writes[#writes + 1] = set_values[i]
    if published(field) then
      changed = true
      if not reload then
        local part = json_key(field) .. ':' .. set_values[i]
        message_bytes = message_bytes + #part + 1
        if message_bytes > max_message then reload = true else set_parts[#set_parts + 1] = part end
      end
    end
  end
end
for _, field in ipairs(deletions) do
  if published(field) then
    changed = true
    if not reload then
      local part = json_key(field)
      message_bytes = message_bytes + #part + 1
      if message_bytes > max_message then reload = true else unset_parts[#unset_parts + 1] = part end
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
-- The refresh interval once written: the one being set, none if deleted, else the stored one.
local refresh = read[2]
for i, field in ipairs(set_fields) do
  if field == '$t' then refresh = set_values[i] end
end
for _, field in ipairs(deletions) do
  if field == '$t' then refresh = nil end
end
-- The new expiry ('keep': by the refresh interval; none: a fixed expiry stays as it is).
local expires_at
if expiry_kind == 'at' then
  expires_at = tonumber(expiry_ms)
elseif expiry_kind == 'in' then
  expires_at = tonumber(now) + tonumber(expiry_ms)
elseif refresh then
  expires_at = tonumber(now) + tonumber(refresh)
end
-- Recorded in '$e' when asked, or when a read could not tell it otherwise (no refresh interval);
-- else a recorded one is removed, rather than left behind as a wrong lower bound.
if expires_at and (record == '1' or not refresh) then
  writes[#writes + 1] = '$e'
  writes[#writes + 1] = expires_at
elseif expires_at and read[3] then
  deletions[#deletions + 1] = '$e'
end

-- The writes: nothing below can fail on a session that passed the checks above.
call_chunked('HDEL', deletions)
call_chunked('HSET', writes)
if expires_at then redis.call('PEXPIREAT', key, expires_at) end


local index_spec = ARGV[first_del + n_del]
local index, owner
if index_spec then index, owner = index_session(key, index_spec) end
if index and index.err then return index end

-- Published last: subscribers receive it after the script ends, so a reader that gets the message
-- and then reads the session sees this write or a later one.
if changed and reload then
  redis.call(publish, key, '{"format":1,"event":"reload","version":' .. version .. '}')
elseif changed then
  redis.call(publish, key, '{"format":1,"event":"change","version":' .. version ..
    ',"set":{' .. table.concat(set_parts, ',') .. '},"unset":[' .. table.concat(unset_parts, ',') .. ']}')
end

local document = want_session and session_document(key, redis.call('HGETALL', key))
if index_spec then return { 'ok', version, document, owner, unpack(index or {}) } end
if want_session then return { 'ok', version, document } end
return { 'ok', version }
