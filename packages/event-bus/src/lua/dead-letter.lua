-- Moves one entry to the dead-letter stream and acknowledges it, atomically (both keys share the {type}
-- hash tag, so this holds on Redis Cluster too) — only while the calling consumer still owns it: an entry
-- another consumer took over (this one's lease lapsed) or that was acknowledged meanwhile is left alone, so
-- it is never dead-lettered twice nor taken from under the consumer handling it.
-- KEYS[1] events:{type}
-- KEYS[2] events:dlq:{type}
-- ARGV[1] group
-- ARGV[2] entry id
-- ARGV[3] consumer that must own the entry
-- ARGV[4..] field, value, … (the entry's fields plus dlq_reason, dlq_deliveries, dlq_group, dlq_original_id, dlq_at)
-- Returns the dead letter's id, or false when the consumer does not own the entry (nothing written).
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if not p[1] or p[1][2] ~= ARGV[3] then return false end
local dlqId = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 4))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return dlqId
