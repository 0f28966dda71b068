-- Prepended to every script of lua/events/ (see src/events/scripts.ts): one shard of the session
-- events, named by its hash tag '{<eventsPrefix><n>}' so that all its keys share one Cluster slot.
-- KEYS[1] is the shard's due key, '<tag>due': a sorted set, member = session id, score = when (ms)
-- the session is to be looked at next, never later than it can expire. The other keys of the
-- shard are derived from it (same slot): '<tag>info' a hash, session id -> what its events carry,
-- '[marker]<createdAt>:<JSON [user, info]>' (marker '?': adopted by a sweep, not yet seen alive;
-- '!': adopted and seen alive, its creation never reported); '<tag>stream' the stream of events
-- (fields t type, s session id, a time in ms, d the info without marker), read through one consumer
-- group; '<tag>wake' the channel that tells watchers to look now.
-- A session has an entry in due exactly when it has one in info: whoever removes the entry reports
-- the session's end, so it is reported once.
local due = KEYS[1]
local tag = string.sub(due, 1, -4)
local info, stream, wake = tag .. 'info', tag .. 'stream', tag .. 'wake'

-- The stored info without its marker.
local function unmarked(data)
  local first = string.byte(data, 1)
  if first == 63 or first == 33 then return string.sub(data, 2) end -- '?', '!'
  return data
end

local function created_at(data)
  return string.match(unmarked(data), '^(%d+):')
end

-- Appends an event; the stream keeps about max_backlog of them (MAXLEN ~: whole nodes only).
local function emit(max_backlog, kind, sid, at, data)
  redis.call('XADD', stream, 'MAXLEN', '~', max_backlog, '*', 't', kind, 's', sid, 'a', at, 'd', data)
end

