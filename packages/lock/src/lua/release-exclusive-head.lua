-- Release one reentrant level of an exclusive holder (compare-token), first part: everything but the hand-off,
-- run before the prelude is defined, so a release with nobody queued costs three commands and none of the
-- prelude's closures. The hand-off (release-exclusive.lua) follows the prelude.
-- Keys: see the prelude. ARGV[1] token, ARGV[2] channel to publish on
-- Returns the remaining count (0 = released), or -1 when the token did not hold the lock exclusively.
local field = 't:' .. ARGV[1]
local held = redis.call('HMGET', KEYS[1], 'mode', field, 'w')
if held[1] ~= 'exclusive' or not held[2] then return -1 end
local count = tonumber(held[2]) - 1
if count > 0 then
  redis.call('HSET', KEYS[1], field, count)
  return count
end
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[3]) == 0 then
  -- Nobody was refused while it was held: no one listens for this release (the uncontended path publishes nothing).
  if held[3] then redis.call('PUBLISH', ARGV[2], '') end
  return 0
end
