-- Extends the lease of this run's in-progress marker, if it still holds it (a slow handler keeps its claim).
-- KEYS[1] events:dedupe:{type}:<group>:…:<event_id>
-- ARGV[1] token of this run
-- ARGV[2] lease ms
-- Returns 1 when extended, 0 when the marker is gone or belongs to another run (or is 'done').
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
