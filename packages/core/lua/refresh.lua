-- Moves a session's expiry and records it in '$e', for the `touchAfter` option (src/store.ts):
-- the drift a touch may skip is measured from '$e', so a refresh that skipped it would be redone
-- on every request. Without touchAfter a refresh is a plain PEXPIREAT, which cannot record it.
-- KEYS[1]: the session key. ARGV[1]: the expiry, ms since the epoch.
-- Returns 1, or 0 when there is no session (nothing is written: a refresh never re-creates one).
if redis.call('PEXPIREAT', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], '$e', ARGV[1])
return 1
