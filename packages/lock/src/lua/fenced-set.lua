-- A write guarded by a fencing token: rejected when a newer token has already written, so a holder that
-- paused past its lease (GC, swap, a stopped VM) cannot overwrite what the next holder wrote.
-- KEYS[1] the protected key
-- KEYS[2] its fence key (highest fencing token seen)
-- ARGV[1] fencing token, ARGV[2] value, ARGV[3] PX ttl ms ('0' = none)
-- Returns {1, token} when written, {0, latestSeen} when the token is stale.
local latest = tonumber(redis.call('GET', KEYS[2]) or '0')
local token = tonumber(ARGV[1])
if token < latest then return {0, latest} end
redis.call('SET', KEYS[2], ARGV[1])
if ARGV[3] ~= '0' then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return {1, token}
