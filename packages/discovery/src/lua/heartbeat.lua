-- A TTL heartbeat: records the reported status and the time; announces only a visible status change.
-- KEYS[1] instances hash, KEYS[2] index counter
-- ARGV[1] id, ARGV[2] status passing|warning|critical, ARGV[3] changes channel, ARGV[4] service name,
-- ARGV[5] ms after which an untouched instances hash expires
-- Returns -1 when the instance is unknown (expired or deregistered: the caller re-registers), else 1.
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return -1 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rec = cjson.decode(raw)
rec.status = ARGV[2]
rec.beat = now
local changed = rec.eff ~= rec.status
if changed then
  rec.eff = rec.status
  if rec.status == 'critical' then rec.crit = now else rec.crit = 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if changed then
  redis.call('INCR', KEYS[2])
  redis.call('PUBLISH', ARGV[3], ARGV[4])
end
return 1
