-- A named lease (an ordered consumer's ownership of a partition): acquired when free, extended when the
-- caller holds it, refused when another owner holds it. ARGV[2] '0' releases it (only the holder's).
-- KEYS[1] the lease key
-- ARGV[1] owner
-- ARGV[2] ttl ms ('0': release)
-- Returns 1 when the caller holds the lease now (or released it), 0 otherwise.
local holder = redis.call('GET', KEYS[1])
if ARGV[2] == '0' then
  if holder == ARGV[1] then redis.call('DEL', KEYS[1]) end
  return 1
end
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
