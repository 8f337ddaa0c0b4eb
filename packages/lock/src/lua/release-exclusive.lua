-- Release one reentrant level of an exclusive holder (compare-token); wakes waiters when it is gone.
-- KEYS[1] owners (see acquire.lua for its shape)
-- ARGV[1] token, ARGV[2] channel to publish on
-- Returns the remaining count (0 = released), or -1 when the token did not hold the lock exclusively.
local field = 't:' .. ARGV[1]
local held = redis.call('HMGET', KEYS[1], 'mode', field)
if held[1] ~= 'exclusive' or not held[2] then return -1 end
local count = tonumber(held[2]) - 1
if count > 0 then
  redis.call('HSET', KEYS[1], field, count)
  return count
end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 0
