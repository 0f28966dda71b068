-- Reads a session and refreshes its lifetime in the same round trip.
-- KEYS[1]: the session key. ARGV[1]: 'fields', or anything else for the document.
-- ARGV[2], only with a user index (src/user-index.ts): the spec of index_session
-- (lua/user-index-session.lua); the reply is then { the reply below, the owner or nil, index_session's reply... }.
-- The '$t' field holds how far a read pushes the expiry forward (ms): the cookie's maxAge, or the
-- store's lifetime for a cookie without expiry; absent when the cookie fixes the expiry.
-- Returns nil when there is no session; else session_document's JSON text or,
-- for 'fields', the JSON text [pttl, [field1, value1, field2, value2, ...]], every stored string as
-- it is (what a compare-and-set compares, and what names a corrupt field).
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return nil end
for i = 1, #fields, 2 do
  if fields[i] == '$t' then
    redis.call('PEXPIRE', KEYS[1], fields[i + 1])
    break
  end
end
local index, owner
if ARGV[2] then index, owner = index_session(KEYS[1], ARGV[2]) end
if index and index.err then return index end
local reply
if ARGV[1] == 'fields' then reply = cjson.encode({ redis.call('PTTL', KEYS[1]), fields }) else reply = session_document(KEYS[1], fields) end
if not ARGV[2] then return reply end
if index then return { reply, owner, unpack(index) } end
return { reply, owner }
