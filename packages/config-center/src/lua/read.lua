-- One consistent read of the live config and its version.
-- KEYS[1] live hash, KEYS[2] version string
-- ARGV none
-- Returns {version, {key, JSON value, key, value, …}}.
return {tonumber(redis.call('GET', KEYS[2]) or '0'), redis.call('HGETALL', KEYS[1])}
