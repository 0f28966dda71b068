#!/bin/bash
# Instructions Redis spends per call of the store's scripts, counted by valgrind's callgrind: unlike
# a timing, the same count for the same binary and inputs whatever else the machine is doing, so
# two versions of a script compare exactly. Needs valgrind and redis-server.
#   bench/tools/lua-cost.sh [REV ...]   the floors (connect-redis's commands, an empty script, the least versioned
#                                       write), then one line per case and version (write, get, destroy): the git
#                                       revisions given (e.g. HEAD~1), then the working tree
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
port=${LUA_COST_PORT:-6391}
calls=5000
work=$(mktemp -d)
trap 'redis-cli -p $port shutdown nosave >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# The script as src/scripts.ts assembles it, from a revision or the working tree.
assemble() { # rev name parts...
  local rev=$1 name=$2; shift 2
  for part in "$@"; do
    if [ "$rev" = worktree ]; then cat "$root/packages/core/lua/$part.lua"; else git -C "$root" show "$rev:packages/core/lua/$part.lua"; fi
  done > "$work/$name.lua"
}

# Instructions per call of a command on a fresh session hash: EVALSHA of $script with the given
# arguments, or (script "-") the plain command given, counted in its C function (e.g. setCommand).
count() { # script args...   |   - cfunction command args...
  local script=$1 cfunction=evalShaCommand; shift
  if [ "$script" = - ]; then cfunction=$1; shift; fi
  local out="$work/callgrind.out"
  rm -f "$out"
  valgrind --tool=callgrind --callgrind-out-file="$out" redis-server --port "$port" --save '' --appendonly no >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$port" hset s:1 cookie '{"m":86400000}' user '{"id":1,"name":"Ada Lovelace"}' cart '[1,2,3]' '$t' 86400000 '$v' 1 '$c' 1795691409942 >/dev/null
  redis-cli -p "$port" pexpire s:1 86400000 >/dev/null
  # s:2: the same session as connect-redis stores it (one JSON string), for the floors' GET and SET.
  redis-cli -p "$port" set s:2 '{"cookie":{"originalMaxAge":86400000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"user":{"id":1,"name":"Ada Lovelace"},"cart":[1,2,3]}' EX 86400 >/dev/null
  # __rand_int__: each call writes a value that differs from the stored one.
  if [ "$script" = - ]; then
    redis-benchmark -p "$port" -n $calls -c 1 -P 50 -r 1000000 --csv "$@" >/dev/null
  else
    local sha
    sha=$(redis-cli -p "$port" script load "$(cat "$script")")
    redis-benchmark -p "$port" -n $calls -c 1 -P 50 -r 1000000 --csv evalsha "$sha" 1 s:1 "$@" >/dev/null
  fi
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  wait "$pid" || true
  local total
  total=$(callgrind_annotate --inclusive=yes "$out" 2>/dev/null | grep ":$cfunction " | head -1 | awk '{gsub(",", "", $1); print $1}')
  echo $((total / calls))
}

# A destroy deletes its session: each call first makes it again (a hash as above, expiring in a day),
# so every call destroys one. "recreate + DEL" is that part alone, to subtract.
cat > "$work/recreate.lua" <<'LUA'
redis.call('HSET', KEYS[1], 'cookie', '{"m":86400000}', 'user', '{"id":1,"name":"Ada Lovelace"}', 'cart', '[1,2,3]', '$t', 86400000, '$v', 1, '$c', 1795691409942)
redis.call('PEXPIRE', KEYS[1], 86400000)
LUA

now=$(date +%s%3N) # the clock: an expiry in the past would delete the session on the first call

# The floors, once (they do not depend on a revision): connect-redis's save and read, an EVALSHA of a
# script that does nothing, and the least a versioned write can be in Lua (read the version, write the
# key and the version, set the expiry, publish; no checks, no diff): where the write's Redis cost starts.
cat > "$work/empty.lua" <<'LUA'
return { 'ok', '1' }
LUA
cat > "$work/least-write.lua" <<'LUA'
local version = string.format('%.0f', tonumber(redis.call('HGET', KEYS[1], '$v')) + 1)
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3], '$v', version)
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
redis.call('PUBLISH', KEYS[1], '{"format":1,"event":"change","version":' .. version .. ',"set":{"' .. ARGV[2] .. '":' .. ARGV[3] .. '},"unset":[]}')
return { 'ok', version }
LUA
json='{"cookie":{"originalMaxAge":86400000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"user":{"id":1,"name":"Ada Lovelace"},"cart":[__rand_int__]}'
printf '%-10s %-52s %8s\n' floor "SET ... EX of the session's JSON (connect-redis's save)" "$(count - setCommand set s:2 "$json" EX 86400)"
printf '%-10s %-52s %8s\n' floor "GET (connect-redis's read)" "$(count - getCommand get s:2)"
printf '%-10s %-52s %8s\n' floor "EVALSHA of a script that returns at once" "$(count "$work/empty.lua" "patch at $((now + 86400000)) 0 65536 0 PUBLISH $now 2 0 0 0" cart '[__rand_int__]' '$t' 86400000)"
printf '%-10s %-52s %8s\n' floor "the least versioned write in Lua (HGET, HSET, PEXPIREAT, PUBLISH)" "$(count "$work/least-write.lua" $((now + 86400000)) cart '[__rand_int__]')"
for rev in "$@" worktree; do
  assemble "$rev" write session-document user-index-session write
  assemble "$rev" get session-document user-index-session get
  assemble "$rev" destroy-only destroy
  cat "$work/recreate.lua" "$work/destroy-only.lua" > "$work/destroy.lua"
  { cat "$work/recreate.lua"; echo "redis.call('DEL', KEYS[1])"; } > "$work/recreate-del.lua"
  printf '%-10s %-52s %8s\n' "$rev" "recreate + DEL (to subtract from the destroys)" "$(count "$work/recreate-del.lua")"
  printf '%-10s %-52s %8s\n' "$rev" "recreate + destroy (logout), events off" "$(count "$work/destroy.lua" PUBLISH logout)"
  # With events (a destroy.lua that writes a tombstone): the owner check '' (no user index), the tombstone.
  if grep -q tombstone "$work/destroy-only.lua"; then
    printf '%-10s %-52s %8s\n' "$rev" "recreate + destroy (logout), events on (tombstone)" "$(count "$work/destroy.lua" PUBLISH logout '' '{s:1}:ended' "destroyed:$now" 379500)"
  fi
  printf '%-10s %-52s %8s\n' "$rev" "express save (patch, one key, expiry at)" "$(count "$work/write.lua" "patch at $((now + 86400000)) 0 65536 0 PUBLISH $now 2 0 0 0" cart '[__rand_int__]' '$t' 86400000)"
  printf '%-10s %-52s %8s\n' "$rev" "putSession (patch, one key, expiry keep, session)" "$(count "$work/write.lua" "patch keep 0 0 65536 1 PUBLISH $now 1 0 0 0" cart '[__rand_int__]')"
  printf '%-10s %-52s %8s\n' "$rev" "get script (document)" "$(count "$work/get.lua" document)"
done
