-- What a store records after a session changed (src/events/recorder.ts). KEYS[1]: the shard's due key.
-- ARGV[1] the operation, ARGV[2] the publish command, ARGV[3] the stream's backlog bound, ARGV[4] now (ms), then:
--   'created', sid, score, info: the session was created (the write found no session);
--   'owner', sid, score, JSON [user, info]: it changed hands; it is looked at again by `score`;
--   'expiry', sid, score: its expiry may have moved back to `score`;
--   'ended', kind, sid...: these sessions were destroyed ('destroyed' or 'revoked'; 'expired' for a
--     write whose cookie had expired): each one that has an entry loses it and is reported;
--   'adopt', then sid/info pairs: a sweep found these sessions; each one without an entry gets one,
--     marked '?' and due now: a watcher confirms it is alive before anything is reported for it.
-- Every operation can be sent again (a retry after a timeout) without reporting anything twice.
-- Returns the number of events added ('adopt': of sessions adopted).
local op, publish, max_backlog, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local emitted, adopted = 0, 0
-- An entry moved earlier (an owner change, an expiry moved back) that is now the first one:
-- watchers sleeping until the previous first entry must look sooner.
local function first_now(sid)
  return redis.call('ZRANGE', due, 0, 0)[1] == sid
end
local wake_up = false

if op == 'created' then
  local sid, score, data = ARGV[5], ARGV[6], ARGV[7]
  local old = redis.call('HGET', info, sid)
  if old then
    local marker = string.byte(old, 1)
    local same = created_at(old) == created_at(data)
    if same and marker ~= 63 and marker ~= 33 then return 0 end -- recorded already: a retry
    if not same and marker ~= 63 then
      -- An earlier life of this id, never reported ended: the write found no session, so it had expired.
      local at = tonumber(redis.call('ZSCORE', due, sid) or now)
      emit(max_backlog, 'expired', sid, math.min(at, tonumber(now)), unmarked(old))
      emitted = emitted + 1
    end
  end
  redis.call('HSET', info, sid, data)
  redis.call('ZADD', due, score, sid)
  emit(max_backlog, 'created', sid, now, data)
  emitted = emitted + 1
elseif op == 'owner' then
  local sid, score, tail = ARGV[5], ARGV[6], ARGV[7]
  local old = redis.call('HGET', info, sid)
  if not old then return 0 end
  local marker, created = string.match(old, '^([?!]?)(%d+):')
  redis.call('HSET', info, sid, marker .. created .. ':' .. tail)
  redis.call('ZADD', due, 'XX', 'LT', score, sid)
  wake_up = first_now(sid)
elseif op == 'expiry' then
  redis.call('ZADD', due, 'XX', 'LT', ARGV[6], ARGV[5])
  wake_up = first_now(ARGV[5])
elseif op == 'ended' then
  local kind = ARGV[5]
  for i = 6, #ARGV do
    local sid = ARGV[i]
    if redis.call('ZREM', due, sid) == 1 then
      local data = redis.call('HGET', info, sid) or ''
      redis.call('HDEL', info, sid)
      emit(max_backlog, kind, sid, now, unmarked(data))
      emitted = emitted + 1
    end
  end
elseif op == 'adopt' then
  for i = 5, #ARGV, 2 do
    local sid = ARGV[i]
    if redis.call('HSETNX', info, sid, '?' .. ARGV[i + 1]) == 1 then
      redis.call('ZADD', due, 'NX', now, sid)
      adopted = adopted + 1
    end
  end
  wake_up = adopted > 0
else
  return redis.error_reply('live-session: unknown events operation "' .. tostring(op) .. '"')
end

-- Watchers sleep until the first entry is due: tell them when there is something new to read or an
-- earlier entry (a creation is both: its event, and maybe the earliest expiry).
if emitted > 0 or wake_up then redis.call(publish, wake, '1') end
if op == 'adopt' then return adopted end
return emitted
