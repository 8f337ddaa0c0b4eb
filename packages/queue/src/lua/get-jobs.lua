-- Jobs of one or more states read at one instant: the states' indexes joined in the order given, each in its
-- own order (waiting: fetch order — the shared line, then a grouped queue's group lines in their turn order;
-- others: by due, lease or finish time), ascending or descending, and the [start, stop] slice of that list.
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake  KEYS[10] events  KEYS[11] groups  KEYS[12] group set
-- KEYS[13] group line key prefix  KEYS[14] waiting-children  KEYS[15] flow outbox
-- ARGV[1] job key prefix  ARGV[2] start  ARGV[3] stop (inclusive)  ARGV[4] '1' ascending, '0' descending
-- ARGV[5..] states
-- Returns { id, { field, value, … }, … }
local index = { waiting = 1, delayed = 2, active = 3, completed = 4, failed = 5, dead = 6, ['waiting-children'] = 14 }
local start, stop = tonumber(ARGV[2]), tonumber(ARGV[3])
local asc = ARGV[4] == '1'
local out = {}
local pos = 0
for i = 5, #ARGV do
  if pos > stop then break end
  local keys = { KEYS[index[ARGV[i]]] }
  if ARGV[i] == 'waiting' then
    for _, g in ipairs(redis.call('LRANGE', KEYS[11], 0, -1)) do keys[#keys + 1] = KEYS[13] .. g end
  end
  for k = 1, #keys do
    if pos > stop then break end
    local key = keys[asc and k or (#keys + 1 - k)]
    local n = redis.call('ZCARD', key)
    local lo = math.max(start, pos) - pos
    local hi = math.min(stop, pos + n - 1) - pos
    if lo <= hi then
      local ids
      if asc then ids = redis.call('ZRANGE', key, lo, hi) else ids = redis.call('ZREVRANGE', key, lo, hi) end
      for _, id in ipairs(ids) do
        out[#out + 1] = id
        out[#out + 1] = redis.call('HGETALL', ARGV[1] .. id)
      end
    end
    pos = pos + n
  end
end
return out
