-- Shared by the scripts that refresh a session's lifetime (prepended to them at load time).
-- The TTL policy lives in the stored cookie (see src/cookie.ts for its compact form):
--   * a cookie with a maxAge (`m`) and a derived expiry (no `e` key): PEXPIRE m, as express-session's
--     touch would do at the end of the request;
--   * a cookie without expiry (`e` is null) or no cookie at all: PEXPIRE lifetime;
--   * anything else (a fixed expiry): the TTL set at write time stays.
local function refresh_expiry(key, cookie, lifetime)
  local ttl = lifetime
  if cookie then
    local ok, c = pcall(cjson.decode, cookie)
    if ok and type(c) == 'table' then
      if c['*'] ~= nil then
        local raw = c['*']
        if type(raw) == 'table' and raw.expires ~= nil and raw.expires ~= cjson.null then ttl = nil end
      elseif c.e == nil then
        if type(c.m) == 'number' then ttl = c.m else ttl = nil end
      end
    end
  end
  if ttl and ttl > 0 then redis.call('PEXPIRE', key, math.floor(ttl)) end
end
