-- Deletes an applied outbox entry, unless it was replaced meanwhile (the child ran again and wrote a new one).
-- KEYS[1] flow outbox   ARGV[1] child id  ARGV[2] the entry as it was applied
-- Returns 1 deleted, 0 not there or replaced.
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
