-- Prepended to get.lua (see src/scripts.ts): a session as one JSON text.
-- session_document(key, fields), with fields as HGETALL returned them, gives
--   [pttl, version, created, count, [key1, value1, key2, value2, ...]]
-- with the application keys (their '$' escape removed) and their stored JSON values embedded as
-- they are, so the client decodes a whole session with one JSON.parse: ioredis decodes a reply of
-- many elements one by one in JavaScript, which costs more than the session itself. count, the
-- number of keys, lets the client notice a stored value that is not exactly one JSON value.
local function session_document(key, fields)
  local parts, count, version, created = {}, 0, '0', '0'
  for i = 1, #fields, 2 do
    local field, value = fields[i], fields[i + 1]
    local first, second = string.byte(field, 1, 2)
    if first ~= 36 or second == 36 or second == 34 then -- an application key: no '$', or '$$', or '$"'
      count = count + 1
      if first ~= 36 then
        parts[#parts + 1] = cjson.encode(field)
      elseif second == 36 then
        parts[#parts + 1] = cjson.encode(string.sub(field, 2))
      else -- '$' then the key's JSON text: a key that is not well-formed UTF-16 (see src/fields.ts)
        parts[#parts + 1] = string.sub(field, 2)
      end
      parts[#parts + 1] = value
    elseif field == '$v' then
      version = value
    elseif field == '$c' then
      created = value
    end
  end
  return '[' .. redis.call('PTTL', key) .. ',' .. version .. ',' .. created .. ',' .. count ..
    ',[' .. table.concat(parts, ',') .. ']]'
end

