-- Adds jobs of a grouped queue (`groups` option): each to its group's waiting line (ZSET scored as `wait`), the
-- group joining the round-robin list when it had no waiting job. A job whose id exists is a duplicate.
-- KEYS[1..9] the queue's keys (add.lua's)   KEYS[10] round-robin LIST of groups   KEYS[11] SET of listed groups
-- ARGV[1] job key prefix   ARGV[2] now (createdAt)   ARGV[3] group wait key prefix   ARGV[4] number of jobs n
-- ARGV[5 + 6i ..] per job: id ('' = generate), name, data, opts, priority, group
-- Returns { id1, added1, … }
local prefix = ARGV[1]
local out = {}
for i = 0, tonumber(ARGV[4]) - 1 do
  local b = 5 + i * 6
  local id = ARGV[b]
  local seq = redis.call('INCR', KEYS[8])
  if id == '' then
    id = tostring(seq)
    while redis.call('EXISTS', prefix .. id) == 1 do
      seq = redis.call('INCR', KEYS[8])
      id = tostring(seq)
    end
  end
  local jk = prefix .. id
  if redis.call('EXISTS', jk) == 1 then
    out[#out + 1] = id
    out[#out + 1] = 0
  else
    local prio = tonumber(ARGV[b + 4])
    local group = ARGV[b + 5]
    redis.call('HSET', jk, 'name', ARGV[b + 1], 'data', ARGV[b + 2], 'opts', ARGV[b + 3], 'priority', prio,
      'state', 'waiting', 'attemptsMade', 0, 'stalledCount', 0, 'createdAt', ARGV[2], 'group', group)
    redis.call('ZADD', ARGV[3] .. group, string.format('%.0f', (10 - prio) * 17592186044416 + seq), id)
    if redis.call('SADD', KEYS[11], group) == 1 then redis.call('RPUSH', KEYS[10], group) end
    out[#out + 1] = id
    out[#out + 1] = 1
  end
end
redis.call('LPUSH', KEYS[9], '1')
redis.call('LTRIM', KEYS[9], 0, 0)
return out
