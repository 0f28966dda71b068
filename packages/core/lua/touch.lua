-- Refreshes a session's lifetime as a read does, without reading it (a socket's activity).
-- KEYS[1]: the session key.
-- Returns { pttl, refresh interval in ms or -1 } after the refresh, or nil when there is no session.
-- A session whose cookie fixes its expiry (no '$t' field) is left as it is: -1 says so.
local refresh = redis.call('HGET', KEYS[1], '$t')
if refresh then
  redis.call('PEXPIRE', KEYS[1], refresh)
elseif redis.call('EXISTS', KEYS[1]) == 0 then
  return nil
end
return { redis.call('PTTL', KEYS[1]), tonumber(refresh) or -1 }
