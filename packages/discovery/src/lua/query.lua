-- Reads a service's instances, first applying time: a TTL instance not heartbeated within its ttl turns
-- critical; one critical for `dereg` ms is removed. Such changes bump the index and are announced.
-- KEYS[1] instances hash, KEYS[2] index counter
-- ARGV[1] changes channel, ARGV[2] service name
-- Returns {index, {JSON registration, ...}}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
local out = {}
local changed = false
for i = 1, #all, 2 do
  local id = all[i]
  local rec = cjson.decode(all[i + 1])
  local eff = rec.status
  local expired = rec.ttl > 0 and now - rec.beat > rec.ttl
  if expired then eff = 'critical' end
  local dirty = false
  if eff ~= rec.eff then
    rec.eff = eff
    if eff ~= 'critical' then rec.crit = 0 elseif expired then rec.crit = rec.beat + rec.ttl else rec.crit = now end
    dirty = true
  end
  if eff == 'critical' and rec.dereg > 0 and rec.crit > 0 and now - rec.crit >= rec.dereg then
    redis.call('HDEL', KEYS[1], id)
    changed = true
  else
    if dirty then
      redis.call('HSET', KEYS[1], id, cjson.encode(rec))
      changed = true
    end
    out[#out + 1] = cjson.encode(rec)
  end
end
local idx
if changed then
  idx = redis.call('INCR', KEYS[2])
  redis.call('PUBLISH', ARGV[1], ARGV[2])
else
  idx = tonumber(redis.call('GET', KEYS[2]) or '0')
end
return {idx, out}
