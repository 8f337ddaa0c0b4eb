-- Reads of flows, each at one instant.
-- ARGV[1] 'deps': KEYS[1] a job's key. Returns { processed (child key, result, …), pending keys, failed (child
--   key, error, …) }.
-- ARGV[1] 'outbox': KEYS[1] the flow outbox, ARGV[2] how many. Returns { child id, entry, … } (up to about that
--   many: one HSCAN step from the start).
if ARGV[1] == 'deps' then
  local k = KEYS[1]
  return { redis.call('HGETALL', k .. ':processed'), redis.call('SMEMBERS', k .. ':deps'),
    redis.call('HGETALL', k .. ':failed') }
end
return redis.call('HSCAN', KEYS[1], '0', 'COUNT', tonumber(ARGV[2]))[2]
