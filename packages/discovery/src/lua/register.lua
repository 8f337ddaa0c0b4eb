-- Registers (or replaces) one instance and announces the change.
-- KEYS[1] instances  hash  id -> JSON registration
-- KEYS[2] index      counter of visible changes to the service
-- ARGV[1] id, ARGV[2] JSON {id,name,address,port,tags,meta,ttl,dereg,status}, ARGV[3] changes channel,
-- ARGV[4] service name, ARGV[5] ms after which an untouched instances hash expires
-- Returns the new index.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rec = cjson.decode(ARGV[2])
rec.beat = now
rec.eff = rec.status
if rec.status == 'critical' then rec.crit = now else rec.crit = 0 end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local idx = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return idx
