-- Takes over entries idle for at least min-idle (a crashed consumer's, or failed ones whose backoff elapsed)
-- and returns them with their delivery counts, in one round trip.
-- KEYS[1] events:{type}
-- ARGV[1] group
-- ARGV[2] consumer taking them
-- ARGV[3] min idle ms
-- ARGV[4] max entries
-- Returns { {id, {field, value, …}, deliveries}, … }. Entries deleted from the stream are dropped from the
-- group's pending list by XAUTOCLAIM itself (Redis 7) and not returned.
local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], '0-0', 'COUNT', ARGV[4])
local out = {}
for _, entry in ipairs(claimed[2]) do
  local id = entry[1]
  if entry[2] then
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
    local deliveries = 1
    if p[1] then deliveries = p[1][4] end
    out[#out + 1] = { id, entry[2], deliveries }
  end
end
return out
