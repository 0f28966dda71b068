-- The index of one user's sessions: a sorted set at KEYS[1] (one key: it lives in its own Cluster
-- slot, never in a script with a session key), member = session id, score = the deadline (ms)
-- until which the index keeps it; the session never expires after its deadline (see
-- lua/user-index-session.lua), so a member whose deadline has passed is gone for sure.
-- After every change the key expires with its last deadline: it never outlives its sessions by
-- more than their slack, and never lives without a TTL.
-- ARGV[1], the operation:
--   'add', now, then sid/deadline pairs: drops the members whose deadline passed, adds (or moves
--     forward, never back: ZADD GT) the given ones;
--   'remove', then sids: removes them;
--   'prune', then sid/deadline pairs: removes each only if it still has that deadline (a listing
--     found it stale; an add since then gave it a new one).
-- Returns the number of members left.
local key, op = KEYS[1], ARGV[1]
if op == 'add' then
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[2])
  for i = 3, #ARGV, 2 do redis.call('ZADD', key, 'GT', ARGV[i + 1], ARGV[i]) end
elseif op == 'remove' then
  for i = 2, #ARGV do redis.call('ZREM', key, ARGV[i]) end
elseif op == 'prune' then
  for i = 2, #ARGV, 2 do
    if redis.call('ZSCORE', key, ARGV[i]) == ARGV[i + 1] then redis.call('ZREM', key, ARGV[i]) end
  end
else
  return redis.error_reply('live-session: unknown index operation "' .. tostring(op) .. '"')
end
local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
if #last == 0 then return 0 end
redis.call('PEXPIREAT', key, last[2])
return redis.call('ZCARD', key)
