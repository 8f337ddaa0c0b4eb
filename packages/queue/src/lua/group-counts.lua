-- Jobs waiting in a grouped queue's group lines, by priority (0..10): ZCOUNT of each priority's score band.
-- KEYS[1] SET of listed groups   ARGV[1] group wait key prefix   Returns { n0, n1, …, n10 }
local SHIFT = 17592186044416
local out = {}
for p = 0, 10 do out[p + 1] = 0 end
for _, g in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local gk = ARGV[1] .. g
  for p = 0, 10 do
    local lo = string.format('%.0f', (10 - p) * SHIFT)
    local hi = string.format('%.0f', (11 - p) * SHIFT)
    out[p + 1] = out[p + 1] + redis.call('ZCOUNT', gk, lo, '(' .. hi)
  end
end
return out
