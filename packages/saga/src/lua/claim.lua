-- Claim sagas for recovery, atomically per partition: two sweepers never get the same saga, and the claim
-- bumps the version so the dead owner's late writes are refused by their fence.
-- KEYS[1] the partition's recovery-index prefix (the zset of saga name N is KEYS[1] .. N); KEYS[2] the
-- partition's saga-hash key prefix (all in the partition's {slot}: the hash of saga <id> is KEYS[2] .. id)
-- ARGV[1] mode: 'expired' (scan the indexes of the names given) or 'one' (ARGV[5] only; also claims a
-- compensation_failed saga)
-- ARGV[2] new owner, ARGV[3] lease ms, ARGV[4] limit, ARGV[5] saga id ('one') , ARGV[6..] saga names ('expired')
-- Only the indexes of the names the claimer can run are read: sagas of names it does not know (another
-- service sharing the prefix) are never in its way.
-- Returns a list of {id, HGETALL array} of the claimed sagas (after the claim).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilMs = now + tonumber(ARGV[3])
local terminal = { completed = true, compensated = true, compensation_failed = true }
local out = {}

local function claim(id, key, index)
  redis.call('HINCRBY', key, 'version', 1)
  redis.call('HSET', key, 'owner', ARGV[2], 'lease_until', untilMs)
  redis.call('ZADD', index, untilMs, id)
  out[#out + 1] = {id, redis.call('HGETALL', key)}
end

if ARGV[1] == 'one' then
  local id = ARGV[5]
  local key = KEYS[2] .. id
  local cur = redis.call('HMGET', key, 'status', 'lease_until', 'saga')
  if not cur[1] then return out end
  if cur[1] == 'compensation_failed' or (not terminal[cur[1]] and tonumber(cur[2]) <= now) then
    claim(id, key, KEYS[1] .. (cur[3] or ''))
  end
  return out
end

local limit = tonumber(ARGV[4])
for i = 6, #ARGV do
  if #out >= limit then break end
  local index = KEYS[1] .. ARGV[i]
  local due = redis.call('ZRANGEBYSCORE', index, '-inf', now, 'LIMIT', 0, limit - #out)
  for _, id in ipairs(due) do
    local key = KEYS[2] .. id
    local cur = redis.call('HMGET', key, 'status', 'lease_until')
    if not cur[1] or terminal[cur[1]] then
      redis.call('ZREM', index, id)
    elseif tonumber(cur[2]) <= now then
      claim(id, key, index)
    end
  end
end
return out
