-- Refreshes a session's lifetime as a read does, without reading it (a socket's activity).
-- KEYS[1]: the session key.
-- Returns { pttl, refresh interval in ms or -1 } after the refresh, or nil when there is no session.
-- A session whose cookie fixes its expiry (no '$t' field) is left as it is: -1 says so.
-- ARGV[1], only with a user index (src/user-index.ts): '?', and index_session's reply, if any, is
-- appended (lua/user-index-session.lua, prepended to this script).
local refresh = redis.call('HGET', KEYS[1], '$t')
if refresh then
  redis.call('PEXPIRE', KEYS[1], refresh)
elseif redis.call('EXISTS', KEYS[1]) == 0 then
  return nil
end
local index = ARGV[1] and index_session(KEYS[1], ARGV[1])
if index and index.err then return index end
if index then return { redis.call('PTTL', KEYS[1]), tonumber(refresh) or -1, unpack(index) } end
return { redis.call('PTTL', KEYS[1]), tonumber(refresh) or -1 }
