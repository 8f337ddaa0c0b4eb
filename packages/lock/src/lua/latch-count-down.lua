-- Count a latch down by one; at zero the key is deleted and the waiters are told (PUBLISH).
-- KEYS[1] count  string: the remaining count (absent: open)
-- ARGV[1] channel to publish on when the count reaches zero
-- Returns the remaining count (0 when open, also when it was open already).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local left = redis.call('DECR', KEYS[1])
if left <= 0 then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[1], '0')
  return 0
end
return left
