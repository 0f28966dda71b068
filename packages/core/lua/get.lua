-- Reads a session and refreshes its lifetime in the same round trip.
-- KEYS[1]: the session key. ARGV[1]: nothing, or with a user index 'document' (the form of the reply).
-- ARGV[2], only with a user index (src/user-index.ts): the spec of index_session
-- (lua/user-index-session.lua); the reply is then { the reply below, the owner or nil, index_session's reply... }.
-- The '$t' field holds how far a read pushes the expiry forward (ms): the cookie's maxAge, or the
-- store's lifetime for a cookie without expiry; absent when the cookie fixes the expiry.
-- Returns nil when there is no session; else session_document's JSON text. (The stored strings
-- exactly, what a compare-and-set compares, are read with plain HGETALL and PTTL: src/store.ts.)
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
local reply = session_document(KEYS[1], fields)
if not ARGV[2] then return reply end
if index then return { reply, owner, unpack(index) } end
return { reply, owner }
