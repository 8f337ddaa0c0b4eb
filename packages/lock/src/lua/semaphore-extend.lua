-- Push one semaphore holder's lease to now + ttl, if it still holds (compare-holder).
-- KEYS[1] holders, KEYS[2] expiry (see semaphore-acquire.lua)
-- ARGV[1] holder id, ARGV[2] ttl ms
-- Returns 1 when extended, 0 when the holder's lease had run out or was released.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local at = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not at or tonumber(at) <= now or redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
local keep = math.max(1, tonumber(last[2]) - now)
redis.call('PEXPIRE', KEYS[1], keep)
redis.call('PEXPIRE', KEYS[2], keep)
return 1
