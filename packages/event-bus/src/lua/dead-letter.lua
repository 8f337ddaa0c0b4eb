-- Moves one entry to the dead-letter stream and acknowledges it, atomically (both keys share the {type}
-- hash tag, so this holds on Redis Cluster too).
-- KEYS[1] events:{type}
-- KEYS[2] events:dlq:{type}
-- ARGV[1] group
-- ARGV[2] entry id
-- ARGV[3..] field, value, … (the entry's fields plus dlq_reason, dlq_deliveries, dlq_group, dlq_original_id, dlq_at)
-- Returns the dead letter's id.
local dlqId = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return dlqId
