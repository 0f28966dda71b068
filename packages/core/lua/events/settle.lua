-- What a watcher found about the entries it claimed (src/events/shard-pump.ts). KEYS[1]: the shard's due key.
-- ARGV: now, the lease it claimed them with, the publish command, the stream's backlog bound, then
-- sid/verdict pairs: 'g<ms>' the session is gone, expired at <ms>; 't<ms> <type> <at> <createdAt>'
-- it is gone and left a tombstone (lua/destroy.lua): ended as <type> ('destroyed', 'revoked',
-- 'expired') at <at>, if the tombstone is of the life the entry knows (its createdAt), else expired
-- at <ms> (a later life of the id was destroyed); else the score to look again.
-- An entry whose score is no longer the lease was changed meanwhile (the session was destroyed and
-- reported, re-created, its expiry moved back, or another watcher claimed it after the lease): left
-- as it is. Returns { the number of events added, the score of the first entry now or false }.
local lease, publish, max_backlog = ARGV[2], ARGV[3], ARGV[4]
local emitted = 0
for i = 5, #ARGV, 2 do
  local sid, verdict = ARGV[i], ARGV[i + 1]
  local score = redis.call('ZSCORE', due, sid)
  if score and tonumber(score) == tonumber(lease) then
    local data = redis.call('HGET', info, sid) or ''
    local kind = string.byte(verdict, 1)
    if kind == 103 or kind == 116 then -- 'g': gone; 't': gone, with a tombstone
      redis.call('ZREM', due, sid)
      redis.call('HDEL', info, sid)
      -- An adopted session never seen alive may have ended before the sweep saw it: nothing is reported.
      if string.byte(data, 1) ~= 63 then
        local type, at = 'expired', string.sub(verdict, 2)
        if kind == 116 then
          local expiry, ended, ended_at, created = string.match(verdict, '^t(%d+) (%a+) (%d+) (%d+)$')
          at = expiry
          if tonumber(created) == tonumber(created_at(data) or 0) then type, at = ended, ended_at end
        end
        emit(max_backlog, type, sid, at, unmarked(data))
        emitted = emitted + 1
      end
    else
      redis.call('ZADD', due, 'XX', verdict, sid)
      if string.byte(data, 1) == 63 then redis.call('HSET', info, sid, '!' .. string.sub(data, 2)) end
    end
  end
end
if emitted > 0 then redis.call(publish, wake, '1') end
local first = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')
return { emitted, first[2] or false }
