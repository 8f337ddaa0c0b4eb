-- Removes a job scheduler (its jobs already added stay). KEYS[1] scheduler index
-- ARGV[1] scheduler hash prefix   ARGV[2] id. Returns 1 when it existed.
redis.call('DEL', ARGV[1] .. ARGV[2])
return redis.call('ZREM', KEYS[1], ARGV[2])
