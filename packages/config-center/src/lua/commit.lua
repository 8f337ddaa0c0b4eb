-- Check-and-set commit of a whole new version.
-- KEYS[1] live hash, KEYS[2] version string, KEYS[3] versions hash
-- ARGV[1] expected current version, ARGV[2] max versions kept, ARGV[3] JSON VersionRecord of the new version
--   (its version field is expected + 1), ARGV[4] channel to publish the new version on,
--   ARGV[5..] flattened key, JSON value, key, value, … — the complete new live config
-- Returns the new version, or {-1, current} when the store was not at the expected version (nothing written).
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
local expected = tonumber(ARGV[1])
if current ~= expected then return {-1, current} end
local nextVersion = current + 1
redis.call('DEL', KEYS[1])
-- In slices of 500 key/value pairs: Lua's unpack takes about 8,000 values at once, and an error past the DEL
-- would leave the live config empty.
for i = 5, #ARGV, 1000 do redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV))) end
redis.call('SET', KEYS[2], nextVersion)
redis.call('HSET', KEYS[3], nextVersion, ARGV[3])
local oldest = nextVersion - tonumber(ARGV[2])
if oldest > 0 then
  local stale = {}
  for _, field in ipairs(redis.call('HKEYS', KEYS[3])) do
    if tonumber(field) <= oldest then stale[#stale + 1] = field end
  end
  for i = 1, #stale, 1000 do redis.call('HDEL', KEYS[3], unpack(stale, i, math.min(i + 999, #stale))) end
end
redis.call('PUBLISH', ARGV[4], nextVersion)
return {nextVersion, current}
