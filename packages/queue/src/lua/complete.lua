-- Active → completed under the job's lease token; then trims completed jobs by count and age.
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake
-- ARGV[1] job key prefix  ARGV[2] id  ARGV[3] token  ARGV[4] now  ARGV[5] result (JSON)
-- ARGV[6] keep count (-1: all, 0: remove now)  ARGV[7] keep age ms (-1: any age)
-- Returns 1, or 0 when the token no longer holds the job (lease lost: recovered as stalled).
local prefix = ARGV[1]
local id = ARGV[2]
local jk = prefix .. id
if redis.call('HGET', jk, 'token') ~= ARGV[3] then return 0 end
redis.call('ZREM', KEYS[3], id)
local keep = tonumber(ARGV[6])
local age = tonumber(ARGV[7])
if keep == 0 then
  redis.call('DEL', jk)
  return 1
end
redis.call('HSET', jk, 'state', 'completed', 'finishedAt', ARGV[4], 'result', ARGV[5])
redis.call('HDEL', jk, 'token')
redis.call('ZADD', KEYS[4], ARGV[4], id)
if keep > 0 then
  local excess = redis.call('ZCARD', KEYS[4]) - keep
  if excess > 0 then
    local old = redis.call('ZRANGE', KEYS[4], 0, excess - 1)
    for _, o in ipairs(old) do redis.call('DEL', prefix .. o) end
    redis.call('ZREMRANGEBYRANK', KEYS[4], 0, excess - 1)
  end
end
if age >= 0 then
  local cutoff = string.format('%.0f', tonumber(ARGV[4]) - age)
  local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. cutoff, 'LIMIT', 0, 1000)
  for _, o in ipairs(old) do
    redis.call('DEL', prefix .. o)
    redis.call('ZREM', KEYS[4], o)
  end
end
return 1
