-- Events handled (src/events/delivery.ts): acknowledged and deleted, so the stream holds only
-- events still to handle. KEYS[1]: the shard's due key. ARGV: the consumer group, then event ids.
-- Returns the number acknowledged.
local acked = redis.call('XACK', stream, ARGV[1], unpack(ARGV, 2))
redis.call('XDEL', stream, unpack(ARGV, 2))
return acked
