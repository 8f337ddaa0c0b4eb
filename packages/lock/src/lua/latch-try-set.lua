-- Set a latch's count, only when it is open (count 0 = key absent), as Redisson's trySetCount.
-- KEYS[1] count  string: the remaining count
-- ARGV[1] count (> 0), ARGV[2] ttl ms of the latch key (0: none)
-- Returns 1 when set, 0 when the latch was already counting.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
