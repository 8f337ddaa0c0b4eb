-- A queue's rate limiter (all workers of the queue, every process): GCRA as in circuit-breaker's gcra.lua — a
-- token bucket of `burst` tokens refilled one per emission interval — granting up to `want` tokens at once (a
-- worker fetches a batch), and a block (worker.rateLimit, an upstream's Retry-After) that grants none until it
-- lapses. Time: the server's clock, in microseconds.
-- KEYS[1] TAT key   KEYS[2] block key
-- ARGV[1] emission interval ms (durationMs / max, may be fractional)   ARGV[2] burst tolerance ms (durationMs)
-- ARGV[3] want (>= 1)   ARGV[4] refund: tokens to give back instead (a fetch found fewer jobs than granted)
-- Returns { granted, ms until a token is free (0 when granted > 0) }
if redis.replicate_commands then redis.replicate_commands() end -- TIME before writes (Redis < 5)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = math.floor(tonumber(ARGV[1]) * 1000 + 0.5)
local tolerance = math.floor(tonumber(ARGV[2]) * 1000 + 0.5)
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local refund = tonumber(ARGV[4] or '0')
if refund > 0 then
  local back = math.max(now, tat - refund * interval)
  if back > now then
    redis.call('SET', KEYS[1], string.format('%.0f', back), 'PX', math.ceil((back - now) / 1000))
  else
    redis.call('DEL', KEYS[1])
  end
  return { 0, 0 }
end
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then return { 0, blocked } end
local free = math.floor((now + tolerance - tat) / interval)
local granted = math.min(tonumber(ARGV[3]), free)
if granted <= 0 then
  return { 0, math.max(1, math.ceil((tat + interval - tolerance - now) / 1000)) }
end
local new_tat = tat + granted * interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return { granted, 0 }
