-- Claim sagas for recovery, atomically per partition: two sweepers never get the same saga, and the claim
-- bumps the version so the dead owner's late writes are refused by their fence.
-- KEYS[1] leases zset of the partition; KEYS[2] the partition's saga-hash key prefix (same {slot}: the hash of
-- saga <id> is KEYS[2] .. id)
-- ARGV[1] mode: 'expired' (scan the index) or 'one' (ARGV[5] only; also claims a compensation_failed saga)
-- ARGV[2] new owner, ARGV[3] lease ms, ARGV[4] limit, ARGV[5] saga id ('one') , ARGV[6..] saga names ('expired')
-- Returns a list of {id, HGETALL array} of the claimed sagas (after the claim).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilMs = now + tonumber(ARGV[3])
local terminal = { completed = true, compensated = true, compensation_failed = true }
local out = {}

local function claim(id, key)
  local v = redis.call('HINCRBY', key, 'version', 1)
  redis.call('HSET', key, 'owner', ARGV[2], 'lease_until', untilMs)
  redis.call('ZADD', KEYS[1], untilMs, id)
  out[#out + 1] = {id, redis.call('HGETALL', key)}
end

if ARGV[1] == 'one' then
  local id = ARGV[5]
  local key = KEYS[2] .. id
  local cur = redis.call('HMGET', key, 'status', 'lease_until')
  if not cur[1] then return out end
  if cur[1] == 'compensation_failed' or (not terminal[cur[1]] and tonumber(cur[2]) <= now) then claim(id, key) end
  return out
end

local names = {}
for i = 6, #ARGV do names[ARGV[i]] = true end
local limit = tonumber(ARGV[4])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit * 4)
for _, id in ipairs(due) do
  if #out >= limit then break end
  local key = KEYS[2] .. id
  local cur = redis.call('HMGET', key, 'status', 'lease_until', 'saga')
  if not cur[1] or terminal[cur[1]] then
    redis.call('ZREM', KEYS[1], id)
  elseif names[cur[3]] and tonumber(cur[2]) <= now then
    claim(id, key)
  end
end
return out
