-- Removes one instance and announces it.
-- KEYS[1] instances hash, KEYS[2] index counter
-- ARGV[1] id, ARGV[2] changes channel, ARGV[3] service name
-- Returns 1 when it was registered, else 0.
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
if removed == 1 then
  redis.call('INCR', KEYS[2])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return removed
