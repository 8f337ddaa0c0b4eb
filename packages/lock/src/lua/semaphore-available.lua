-- Permits of a semaphore free now (leases that ran out count as free).
-- KEYS[1] holders, KEYS[2] expiry (see semaphore-acquire.lua)
-- ARGV[1] the semaphore's limit
-- Returns the number of free permits.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf')
local used = 0
for _, h in ipairs(live) do used = used + tonumber(redis.call('HGET', KEYS[1], h) or '0') end
return math.max(0, tonumber(ARGV[1]) - used)
