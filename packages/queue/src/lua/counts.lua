-- A consistent snapshot of the queue's depth: jobs per state, and waiting jobs per priority 0..10.
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake  KEYS[10] waiting-children (flow parents)
-- Returns { waiting, delayed, active, completed, failed, dead, waiting with priority 0, …, priority 10, waiting-children }
local SHIFT = 17592186044416
local out = {}
for i = 1, 6 do out[i] = redis.call('ZCARD', KEYS[i]) end
for p = 0, 10 do
  local lo = string.format('%.0f', (10 - p) * SHIFT)
  local hi = string.format('%.0f', (11 - p) * SHIFT)
  out[#out + 1] = redis.call('ZCOUNT', KEYS[1], lo, '(' .. hi)
end
out[#out + 1] = redis.call('ZCARD', KEYS[10])
return out
