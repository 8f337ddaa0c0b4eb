-- Release one reentrant level of a shared holder (compare-token); wakes waiters when the last one is gone.
-- (Exclusive holders: release-exclusive.lua.)
-- KEYS[1] owners, KEYS[2] expiry (see acquire.lua for their shape)
-- ARGV[1] token, ARGV[2] mode, ARGV[3] channel to publish on
-- Returns the remaining count (0 = released), or -1 when the token did not hold the lock.
local field = 't:' .. ARGV[1]
local held = redis.call('HMGET', KEYS[1], 'mode', field)
if held[1] ~= ARGV[2] or not held[2] then return -1 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiry = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not expiry or tonumber(expiry) <= now then return -1 end
local count = redis.call('HINCRBY', KEYS[1], field, -1)
if count > 0 then return count end
redis.call('HDEL', KEYS[1], field, 'f:' .. ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf') == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
end
redis.call('PUBLISH', ARGV[3], ARGV[1])
return 0
