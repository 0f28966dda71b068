-- One look of a watcher at one shard (src/events/shard-pump.ts). KEYS[1]: the shard's due key.
-- ARGV: now, lease (ms since the epoch), how many due entries to claim, the consumer group, this
-- consumer, how many events to read, how long (ms) an event may stay unacknowledged by its consumer
-- before another one takes it, how many such events to take over (0: not this time).
-- 1. Claims the due entries, earliest first: each one's score becomes the lease, so no other
--    watcher claims it until then (Sidekiq's scheduled set, with a lease instead of ZREM: a watcher
--    that dies with a claim leaves it to come due again).
-- 2. Reads new events, then takes over those another consumer left unacknowledged that long (it
--    died, or its handler failed), with how many times each was delivered (XPENDING).
-- Returns { claimed sid/score pairs, new events, taken-over events, their delivery counts, the score
-- of the first entry now due or false }.
local now, lease, max_due = ARGV[1], ARGV[2], tonumber(ARGV[3])
local group, consumer, count, idle, take_over = ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8])

local claimed = {}
if max_due > 0 then
  claimed = redis.call('ZRANGE', due, '-inf', now, 'BYSCORE', 'LIMIT', 0, max_due, 'WITHSCORES')
  for i = 1, #claimed, 2 do redis.call('ZADD', due, 'XX', lease, claimed[i]) end
end

local fresh, stale, attempts = {}, {}, {}
if count > 0 then
  local read = redis.pcall('XREADGROUP', 'GROUP', group, consumer, 'COUNT', count, 'STREAMS', stream, '>')
  if type(read) == 'table' and read.err then
    if not string.find(read.err, 'NOGROUP', 1, true) then return read end
    -- The first look (or Redis lost the group): events recorded before it are read too ('0').
    redis.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
    read = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', count, 'STREAMS', stream, '>')
  end
  if read then fresh = read[1][2] end
end
if take_over > 0 then
  stale = redis.call('XAUTOCLAIM', stream, group, consumer, idle, '0-0', 'COUNT', take_over)[2]
  for i = 1, #stale do
    local pending = redis.call('XPENDING', stream, group, stale[i][1], stale[i][1], 1)
    attempts[i] = pending[1] and pending[1][4] or 1
  end
end

local first = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')
return { claimed, fresh, stale, attempts, first[2] or false }
