-- Give back one holder's permits and wake waiters (compare-holder).
-- KEYS[1] holders, KEYS[2] expiry (see semaphore-acquire.lua)
-- ARGV[1] holder id, ARGV[2] channel to publish on
-- Returns 1 when the holder still held its permits, 0 when its lease had run out (or it released already).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local at = redis.call('ZSCORE', KEYS[2], ARGV[1])
local held = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if held == 0 then return 0 end
redis.call('PUBLISH', ARGV[2], ARGV[1])
if not at or tonumber(at) <= now then return 0 end
return 1
