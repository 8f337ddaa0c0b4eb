-- Fetches from a grouped queue's groups, round-robin: one job per group per turn (highest priority, then
-- oldest, within the group), skipping groups at their own rate limit (GCRA per group, server clock), until
-- `count` jobs are leased or no group can give one. Leased jobs are active exactly as fetch.lua leaves them.
-- KEYS[1..9] the queue's keys   KEYS[10] round-robin LIST of groups   KEYS[11] SET of listed groups
-- ARGV[1] job key prefix   ARGV[2] now (processedAt)   ARGV[3] count   ARGV[4] token   ARGV[5] lease ms
-- ARGV[6] group wait key prefix   ARGV[7] group limiter key prefix
-- ARGV[8] per-group emission interval ms (0: groups unlimited)   ARGV[9] per-group burst tolerance ms
-- Returns { { { id, name, data, opts, priority, attemptsMade, createdAt }, … }, ms until a limited group has a
-- token again (-1: none limited) }
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local clock = math.floor(us / 1000)
local jobs = {}
local wait = -1
if redis.call('HGET', KEYS[7], 'paused') == '1' then return { jobs, wait } end
local count = tonumber(ARGV[3])
local interval = math.floor(tonumber(ARGV[8]) * 1000 + 0.5)
local tolerance = math.floor(tonumber(ARGV[9]) * 1000 + 0.5)
local deadline = string.format('%.0f', clock + tonumber(ARGV[5]))
local progressed = true
while #jobs < count and progressed do
  progressed = false
  local n = redis.call('LLEN', KEYS[10])
  for _ = 1, n do
    if #jobs >= count then break end
    local g = redis.call('LPOP', KEYS[10])
    if not g then break end
    local gk = ARGV[6] .. g
    local ok = true
    local lk = ARGV[7] .. g
    local tat
    if interval > 0 then
      tat = tonumber(redis.call('GET', lk))
      if not tat or tat < us then tat = us end
      if tat + interval - tolerance > us then
        ok = false
        local ms = math.ceil((tat + interval - tolerance - us) / 1000)
        if wait < 0 or ms < wait then wait = ms end
      end
    end
    local popped = {}
    if ok then popped = redis.call('ZPOPMIN', gk, 1) end
    if popped[1] then
      local id = popped[1]
      local jk = ARGV[1] .. id
      local f = redis.call('HMGET', jk, 'name', 'data', 'opts', 'priority', 'attemptsMade', 'createdAt')
      if f[1] then
        redis.call('HSET', jk, 'state', 'active', 'token', ARGV[4], 'processedAt', ARGV[2])
        redis.call('ZADD', KEYS[3], deadline, id)
        jobs[#jobs + 1] = { id, f[1], f[2], f[3], f[4], f[5], f[6] }
        progressed = true
        if interval > 0 then
          local nt = tat + interval
          redis.call('SET', lk, string.format('%.0f', nt), 'PX', math.ceil((nt - us) / 1000) + 1)
        end
      end
    end
    if redis.call('ZCARD', gk) > 0 then redis.call('RPUSH', KEYS[10], g) else redis.call('SREM', KEYS[11], g) end
  end
end
if #jobs > 0 and redis.call('LLEN', KEYS[10]) > 0 then
  redis.call('LPUSH', KEYS[9], '1')
  redis.call('LTRIM', KEYS[9], 0, 0)
end
return { jobs, wait }
