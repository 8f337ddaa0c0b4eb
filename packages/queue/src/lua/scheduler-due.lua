-- Schedulers due at `now` (up to `limit`) as flat field/value lists, and the earliest next tick after now.
-- KEYS[1] scheduler index   ARGV[1] scheduler hash prefix   ARGV[2] now (ms or '+inf')   ARGV[3] limit
-- Returns { { id, { field, value, … } }, … }, next tick ms after now or -1 }
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
local out = {}
for _, id in ipairs(ids) do
  local h = redis.call('HGETALL', ARGV[1] .. id)
  if #h > 0 then out[#out + 1] = { id, h } else redis.call('ZREM', KEYS[1], id) end
end
local after = -1
if ARGV[2] ~= '+inf' then
  local n = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[2], '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if n[2] then after = tonumber(n[2]) end
end
return { out, after }
