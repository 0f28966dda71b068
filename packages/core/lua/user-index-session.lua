-- Prepended to get.lua and write.lua (see src/scripts.ts): the session's side of the user index
-- (src/user-index.ts). Only called when the store has a `userOf` option. Session fields:
--   '$u' the user the session belongs to; '$d' the deadline (ms) the user's index holds for it:
--   the session never expires after it; '$i' when a refresh of the index was last requested (ms).
-- index_session(key, spec), after the script has set the session's expiry, with spec:
--   '?' keep the owner; '-' the session belongs to no one; '+<grace>:<user>' it belongs to <user>.
-- A new owner is recorded at once, with the expiry capped at now + grace until the client has
-- added the session to the owner's index and confirmed it (lua/user-index-confirm.lua).
-- An expiry moved past '$d' (a read or write the index was not told about) is capped at '$d';
-- once it comes within a quarter of its remaining lifetime of '$d', the client is asked (once per
-- eighth of that lifetime: '$i') to refresh the index.
-- Returns nil when the index needs nothing, else { kind, user, previous user, expiry, now }: kind
-- 'moved' (user '' = no one) or 'due'; expiry is the one the script meant to set (ms, before any cap).
-- Also returns the owner now (false for none).
local function index_session(key, spec)
  local owner, deadline, requested = unpack(redis.call('HMGET', key, '$u', '$d', '$i'))
  if spec == '?' and not owner then return nil, false end -- no one's, and it stays so
  local pttl = redis.call('PTTL', key)
  if pttl < 0 then return nil, owner end -- no session (or one without a TTL, which this store never writes)
  local clock = redis.call('TIME')
  local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
  local expiry = now + pttl
  local wanted, grace = owner, 0
  if spec == '-' then
    wanted = false
  elseif spec ~= '?' then
    local g, user = string.match(spec, '^%+(%d+):(.+)$')
    if not g then return redis.error_reply('live-session: bad index spec "' .. spec .. '"') end
    wanted, grace = user, tonumber(g)
  end
  if wanted ~= owner then
    if wanted then
      redis.call('HSET', key, '$u', wanted, '$d', now + grace)
      redis.call('HDEL', key, '$i', '$n')
      if expiry > now + grace then redis.call('PEXPIREAT', key, now + grace) end
    else
      redis.call('HDEL', key, '$u', '$d', '$i', '$n')
    end
    return { 'moved', wanted or '', owner or '', expiry, now }, wanted
  end
  if not owner then return nil, false end
  deadline = tonumber(deadline) or now
  if expiry > deadline then redis.call('PEXPIREAT', key, deadline) end
  local remaining = expiry - now
  if expiry <= deadline - remaining / 4 then return nil, owner end
  if requested and now - tonumber(requested) < remaining / 8 then return nil, owner end
  redis.call('HSET', key, '$i', now)
  return { 'due', owner, owner, expiry, now }, owner
end

