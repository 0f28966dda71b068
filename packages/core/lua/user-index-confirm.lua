-- The index of the session's user now holds it until ARGV[2]: records that deadline in the session
-- ('$d') and gives back the expiry the session was meant to have (capped until then).
-- KEYS[1]: the session key. ARGV[1]: the user; ARGV[2]: the deadline (ms); ARGV[3]: the expiry the
-- session was meant to have (ms); ARGV[4]: the JSON description to record ('$n'), or '' for none.
-- Changes nothing (returns 0) when the session is gone or belongs to someone else now: it never
-- re-creates a session (an HSET on a key that just expired would, without a TTL). Returns 1.
local owner, deadline = unpack(redis.call('HMGET', KEYS[1], '$u', '$d'))
if owner ~= ARGV[1] then return 0 end
-- The last confirmation wins: every deadline confirmed is held by the index (its ZADD GT keeps the
-- largest), and a lower one only brings the next refresh forward. It also replaces the provisional
-- deadline of a new owner (now + grace).
deadline = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], '$d', ARGV[2])
redis.call('HDEL', KEYS[1], '$i')
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], '$n', ARGV[4]) end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local pttl = redis.call('PTTL', KEYS[1])
local expiry = math.min(math.max(now + pttl, tonumber(ARGV[3])), deadline)
redis.call('PEXPIREAT', KEYS[1], expiry)
return 1
