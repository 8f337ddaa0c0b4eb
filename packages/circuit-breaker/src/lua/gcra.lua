--[[
  GCRA (generic cell rate algorithm) rate-limit decision, as in redis-cell, Stripe and `throttled`:
  one key, one round trip, atomic. The key holds the theoretical arrival time (TAT) of the next request;
  a request is allowed when TAT + cost * interval lands no further than `tolerance` ahead of now.
  Equivalent to a token bucket of `tolerance / interval` tokens refilled one per `interval`.

  Input:
    KEYS[1] tat key: the TAT as an integer number of microseconds since the epoch

    ARGV[1] emission interval ms (period / limit; may be fractional)
    ARGV[2] burst tolerance ms (emission interval * burst, burst = bucket capacity)
    ARGV[3] cost (tokens, integer >= 1)
    ARGV[4] optional "now" in ms since the epoch, replacing the server's TIME. For tests only (a fake
            clock makes refill deterministic); in production leave it out, so every app instance shares
            Redis's clock.

  Output: { allowed, remaining, retryAfterMs, resetAfterMs }, integers only
    allowed       1 when the cost was taken, 0 when refused (nothing is written then)
    remaining     whole tokens left after this decision
    retryAfterMs  0 when allowed; when refused, how long until `cost` tokens are available;
                  -1 when the cost exceeds the burst and can never be granted
    resetAfterMs  how long until the bucket is full again (the key expires then: SET ... PX)

  Internally time is integer microseconds (exact in Lua's doubles up to 2^53), so a fractional emission
  interval neither drifts nor loses precision when the TAT is stored.
]]

-- Before Redis 5, a script reading TIME must replicate its effects rather than itself; later a no-op.
if redis.replicate_commands then
  redis.replicate_commands()
end

local key = KEYS[1]
local interval = math.floor(tonumber(ARGV[1]) * 1000 + 0.5)
local tolerance = math.floor(tonumber(ARGV[2]) * 1000 + 0.5)
local cost = tonumber(ARGV[3])

local now
if ARGV[4] and ARGV[4] ~= '' then
  now = math.floor(tonumber(ARGV[4]) * 1000 + 0.5)
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local function ms(us)
  return math.ceil(us / 1000)
end

local tat = tonumber(redis.call('GET', key))
if not tat or tat < now then
  tat = now
end

local increment = cost * interval
local new_tat = tat + increment
local allow_at = new_tat - tolerance
local diff = now - allow_at

if diff < 0 then
  local remaining = math.floor((tolerance - (tat - now)) / interval)
  if remaining < 0 then
    remaining = 0
  end
  local retry_after = -1
  if increment <= tolerance then
    retry_after = ms(-diff)
  end
  return { 0, remaining, retry_after, ms(tat - now) }
end

local ttl = ms(new_tat - now)
redis.call('SET', key, string.format('%.0f', new_tat), 'PX', ttl)
return { 1, math.floor(diff / interval), 0, ttl }
