-- Writes a change to one session atomically, then publishes it on the channel named like the key.
-- KEYS[1]: the session key (and channel).
-- ARGV[1], the header (one argument: ioredis's cost per argument is what a write mostly costs it):
--   "<mode> <expiry kind> <expiry ms> <max bytes> <max message bytes> <want session> <publish command>
--    <now ms> <fields to set> <fields to delete> <expect> <record expiry>", where
--   mode: 'patch' (the session must exist) or 'replace' (the given fields become the whole session);
--   expiry kind: 'at' (PEXPIREAT ms; the client turns a lifetime into the time it ends) or 'keep' (now +
--   the stored '$t' field, if any);
--   max bytes: 0 for no limit; max message bytes: past it, a reload message replaces the change;
--   want session: 1 to return the session; expect: 1 when ARGV[2] and ARGV[3] are a field and the
--   value it must hold ('' when it must be absent), else 0; record expiry: 1 to record the new
--   expiry in '$e' (the store's touchAfter measures from it), 0 to record it only when the session
--   has no refresh interval (a fixed expiry: a read learns it from '$e' alone).
--   An optional last field '1' (only with the store's `events` option, src/events/recorder.ts) ends
--   every 'ok' reply with 1 when this write created the session, else 0.
-- Then the field/value pairs to set, then the field names to delete, then, only with a user index
-- (src/user-index.ts), the spec of index_session (lua/user-index-session.lua); 'ok' then carries the
-- owner and index_session's request, if any: { 'ok', version, fields or nil, expiry or nil, owner or nil
-- [, kind, user, previous user, expiry, now] }.
-- Field names: an application key starting with '$' is stored as '$' .. key, one that is not
-- well-formed UTF-16 as '$' .. its JSON text (see src/fields.ts); every other field starting with
-- '$' is metadata ('$v' version, '$c' creation time in ms, '$t' refresh interval, '$e' expiry).
-- Only application fields other than 'cookie' are published. They move the version, and so does a
-- change of 'cookie' or '$t' in a session that existed (published as a reload, without values): a
-- version names one exact state of everything a read returns, what a replica serving reads from
-- memory relies on (src/replica/).
-- Every check that can fail runs before the first write: a script cannot roll back.
-- Returns { 'ok', version (as text) [, the session as HGETALL gives it, its expiry] }, { 'gone' },
-- { 'conflict' } or { 'too_large', bytes }. The session goes back as the raw hash, decoded by the
-- client: building session_document's JSON text here would cost Redis more than the rest of a
-- one-key write (bench/tools/lua-cost.sh).
-- Cost: Redis 7.0 spends about as much on each call into C (string.byte, tonumber, ipairs' iterator,
-- cjson) as on a few dozen Lua instructions, and on each redis.call as on ten of those: the common
-- write (a patch of one key) makes four redis.calls and as few other calls as it can. Instructions
-- per call are measured with callgrind (bench/README.md, "The write script's cost in Redis").
local key = KEYS[1]
local mode, expiry_kind, expiry_ms, max_bytes, max_message, want_session, publish, now, n_set, n_del, expect, record, events =
  string.match(ARGV[1], '^(%a+) (%a+) (%-?%d+) (%d+) (%d+) ([01]) (%a+) (%d+) (%d+) (%d+) ([01]) ([01]) ?(1?)$')
if not mode or (expiry_kind ~= 'at' and expiry_kind ~= 'keep') then return redis.error_reply('live-session: bad write header "' .. ARGV[1] .. '"') end
n_set, n_del = tonumber(n_set), tonumber(n_del)
local expect_field, expect_value, first_set = '', '', 2
if expect == '1' then expect_field, expect_value, first_set = ARGV[2], ARGV[3], 4 end
local first_del = first_set + 2 * n_set
local last_del = first_del + n_del - 1

-- Lua's unpack, and so one command's arguments, stops at about 8,000 values: commands over many
-- fields go in chunks of this many (an even number: HSET takes pairs).
local CHUNK = 1000
local function call_chunked(command, list, n)
  if n <= CHUNK then
    redis.call(command, key, unpack(list, 1, n))
    return
  end
  for i = 1, n, CHUNK do redis.call(command, key, unpack(list, i, math.min(i + CHUNK - 1, n))) end
end

-- Everything the write reads of the session, in one HMGET: '$v' (every session has it: it tells
-- whether the session exists), '$t' and '$e' (the expiry), the expected field, the fields to set
-- (only what differs is written) and the fields named for deletion (only those that exist).
-- Whether the write sets or deletes '$t' (the refresh interval) is noted on the way.
local probe, n_probe = { '$v', '$t', '$e' }, 3
if expect == '1' then probe[4], n_probe = expect_field, 4 end
local first_probe_set = n_probe + 1
local sets_refresh, deletes_refresh = false, false
for i = first_set, first_del - 1, 2 do
  local field = ARGV[i]
  n_probe = n_probe + 1
  probe[n_probe] = field
  if field == '$t' then sets_refresh = ARGV[i + 1] end
end
local first_probe_del = n_probe + 1
for i = first_del, last_del do
  n_probe = n_probe + 1
  probe[n_probe] = ARGV[i]
end
local read
if n_probe <= CHUNK then
  read = redis.call('HMGET', key, unpack(probe, 1, n_probe))
else
  read = {}
  for i = 1, n_probe, CHUNK do
    local part = redis.call('HMGET', key, unpack(probe, i, math.min(i + CHUNK - 1, n_probe)))
    for j = 1, #part do read[i + j - 1] = part[j] end
  end
end

local stored_version = read[1]
local exists = stored_version ~= false
if mode == 'patch' and not exists then return { 'gone' } end
if expect == '1' and (read[4] or '') ~= expect_value then return { 'conflict' } end

-- A field is metadata when it is '$' then anything but '$' or '"' (36 is '$', 34 '"').
-- Fields to delete: those named that exist, plus (replace) every stored application field not given.
local deletions, n_deletions = {}, 0
for i = first_probe_del, n_probe do
  if read[i] then
    n_deletions = n_deletions + 1
    deletions[n_deletions] = probe[i]
    if probe[i] == '$t' then deletes_refresh = true end
  end
end
if mode == 'replace' and exists then
  local given = {}
  for i = first_set, first_del - 1, 2 do given[ARGV[i]] = true end
  local stored = redis.call('HKEYS', key)
  for i = 1, #stored do
    local field = stored[i]
    local first, second = string.byte(field, 1, 2)
    local meta = first == 36 and second ~= 36 and second ~= 34
    if not meta and not given[field] then
      n_deletions = n_deletions + 1
      deletions[n_deletions] = field
    end
  end
end

if max_bytes ~= '0' then
  local limit = tonumber(max_bytes)
  local stored = {}
  if exists then
    local all = redis.call('HGETALL', key)
    for i = 1, #all, 2 do stored[all[i]] = all[i + 1] end
  end
  for i = 1, n_deletions do stored[deletions[i]] = nil end
  for i = first_set, first_del - 1, 2 do stored[ARGV[i]] = ARGV[i + 1] end
  local size = 0
  for field, value in pairs(stored) do size = size + #field + #value end
  if size > limit then return { 'too_large', size } end
end

-- Only what really differs from the stored values is written and published. Only application
-- fields other than 'cookie' are published; the change message is built only while it stays
-- under max message bytes; past that, a reload message is published.
local set_parts, unset_parts, n_set_parts, n_unset_parts = {}, {}, 0, 0
local writes, n_writes = {}, 0
local changed, reload, message_bytes, message_limit = false, false, 80, nil
-- The cookie or the refresh interval of an existing session changed: a reload, whatever else changed.
local meta_changed = false
-- The application key of a published field as JSON text ('$$k' is the key '$k'; '$"..' the JSON
-- text of a key that is not well-formed UTF-16), or nil for 'cookie' and metadata.
local function published_key(field)
  if field == 'cookie' then return nil end
  local first, second = string.byte(field, 1, 2)
  if first ~= 36 then return cjson.encode(field) end
  if second == 36 then return cjson.encode(string.sub(field, 2)) end
  if second == 34 then return string.sub(field, 2) end
  return nil
end
-- Adds a part to the message, or turns it into a reload once it would be too large.
local function fits(part)
  if not message_limit then message_limit = tonumber(max_message) end
  message_bytes = message_bytes + #part + 1
  if message_bytes > message_limit then reload = true end
  return not reload
end
local probed = first_probe_set - 1
for i = first_set, first_del - 1, 2 do
  local value = ARGV[i + 1]
  probed = probed + 1
  if read[probed] ~= value then
    local field = ARGV[i]
    writes[n_writes + 1], writes[n_writes + 2] = field, value
    n_writes = n_writes + 2
    local json_key = published_key(field)
    if (field == 'cookie' or field == '$t') and exists then meta_changed = true end
    if json_key then
      changed = true
      if not reload then
        local part = json_key .. ':' .. value
        if fits(part) then
          n_set_parts = n_set_parts + 1
          set_parts[n_set_parts] = part
        end
      end
    end
  end
end
for i = 1, n_deletions do
  local json_key = published_key(deletions[i])
  if deletions[i] == 'cookie' or deletions[i] == '$t' then meta_changed = true end
  if json_key then
    changed = true
    if not reload and fits(json_key) then
      n_unset_parts = n_unset_parts + 1
      unset_parts[n_unset_parts] = json_key
    end
  end
end

-- Numbers stay text where they can: a tonumber (strtod) or a number made text (sprintf) costs
-- Redis more than the rest of a line of Lua. A version may have 16 digits (lua/migrate.lua starts
-- it at the clock in microseconds): '%.0f' writes it whole, where tostring would round it to 14.
if meta_changed then changed, reload = true, true end
local version = stored_version or '0'
if changed then version = string.format('%.0f', (tonumber(stored_version) or 0) + 1) end
if changed or not exists then
  writes[n_writes + 1], writes[n_writes + 2] = '$v', version
  n_writes = n_writes + 2
end
if not exists then
  writes[n_writes + 1], writes[n_writes + 2] = '$c', now
  n_writes = n_writes + 2
end
-- The refresh interval once written: the one being set, none if deleted, else the stored one.
local refresh = read[2]
if sets_refresh then refresh = sets_refresh end
if deletes_refresh then refresh = nil end
-- The new expiry ('keep': by the refresh interval; none: a fixed expiry stays as it is).
local expires_at
if expiry_kind == 'at' then
  expires_at = expiry_ms
elseif refresh then
  expires_at = tostring(tonumber(now) + tonumber(refresh))
end
-- Recorded in '$e' when asked, or when a read could not tell it otherwise (no refresh interval);
-- else a recorded one is removed, rather than left behind as a wrong lower bound.
if expires_at and (record == '1' or not refresh) then
  writes[n_writes + 1], writes[n_writes + 2] = '$e', expires_at
  n_writes = n_writes + 2
elseif expires_at and read[3] then
  n_deletions = n_deletions + 1
  deletions[n_deletions] = '$e'
end

-- The writes: nothing below can fail on a session that passed the checks above.
if n_deletions > 0 then call_chunked('HDEL', deletions, n_deletions) end
if n_writes > 0 then call_chunked('HSET', writes, n_writes) end
if expires_at then redis.call('PEXPIREAT', key, expires_at) end

local index_spec = ARGV[last_del + 1]
local index, owner
if index_spec then index, owner = index_session(key, index_spec) end
if index and index.err then return index end

-- Published last: subscribers receive it after the script ends, so a reader that gets the message
-- and then reads the session sees this write or a later one.
if changed and reload then
  redis.call(publish, key, '{"format":1,"event":"reload","version":' .. version .. '}')
elseif changed then
  redis.call(publish, key, '{"format":1,"event":"change","version":' .. version ..
    ',"set":{' .. table.concat(set_parts, ',', 1, n_set_parts) .. '},"unset":[' .. table.concat(unset_parts, ',', 1, n_unset_parts) .. ']}')
end

-- The session read back, with its expiry: the one just set (text, ms since the epoch), or its PTTL
-- (a number) when this write left a fixed expiry as it was or the user index may have moved it
-- (the PTTL it saves is about 3 % of a putSession's instructions, bench/tools/lua-cost.sh).
local fields = want_session == '1' and redis.call('HGETALL', key)
local expiry = want_session == '1' and ((not index_spec and expires_at) or redis.call('PTTL', key))
local reply
if index_spec then
  reply = { 'ok', version, fields, expiry, owner or false, unpack(index or {}) }
elseif want_session == '1' then
  reply = { 'ok', version, fields, expiry }
else
  reply = { 'ok', version }
end
if events == '1' then reply[#reply + 1] = exists and 0 or 1 end
return reply
