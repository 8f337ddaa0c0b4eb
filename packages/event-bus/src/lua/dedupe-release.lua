-- Deletes this run's in-progress marker after its handler failed, so the redelivery runs it again. A marker
-- that expired and was claimed by another run, or that says 'done', is left alone.
-- KEYS[1] events:dedupe:{type}:<group>:…:<event_id>
-- ARGV[1] token of this run
-- Returns 1 when deleted, 0 otherwise.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
