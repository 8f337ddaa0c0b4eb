-- Retention of one type's stream and its DLQ, group-aware. Removes, with XTRIM MINID, the entries below
--   cut = max(A, min(R, L))
-- A: the floor over every group — below it every group has acknowledged everything (always removable);
-- L: the floor over live groups only — never passed: an entry delivered to a live group and not acknowledged,
--    or not yet delivered to it, stays (no live group: no bound);
-- R: the retention cut — entries older than maxAgeMs (by their id's time against the server's TIME), and the
--    oldest beyond maxLen (at most LEN_STEP of those a call; the next maintenance run continues).
-- A group's floor is its lowest pending id, or — nothing pending — the id right after its last-delivered id.
-- A group is dead when none of its consumers was active (XINFO CONSUMERS idle) within deadGroupAfterMs (a
-- group without consumers is dead); 0 = groups never count as dead. A dead group's floor counts in A only.
-- No group at all: only R applies. The DLQ is capped by count (exact) and by age.
-- KEYS[1] events:{type}
-- KEYS[2] events:dlq:{type}
-- ARGV[1] maxAgeMs (0 = no age limit)
-- ARGV[2] maxLen (0 = no length limit)
-- ARGV[3] deadGroupAfterMs (0 = never dead)
-- ARGV[4] DLQ maxLen (0 = no cap)
-- ARGV[5] DLQ maxAgeMs (0 = no cap)
-- Returns { entries removed, dead letters removed, { dead groups whose unconsumed entries were removed } }.
local LEN_STEP = 10000
local maxAge, maxLen, deadAfter = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local dlqLen, dlqAge = tonumber(ARGV[4]), tonumber(ARGV[5])
local function parse(id)
  local dash = string.find(id, '-', 1, true)
  if not dash then return tonumber(id), 0 end
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local function after(id)
  local ms, seq = parse(id)
  return string.format('%.0f-%.0f', ms, seq + 1)
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local removed = 0
local dead = {}
if redis.call('EXISTS', KEYS[1]) == 1 then
  local all, live, deadFloors = nil, nil, {}
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    local info = {}
    for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
    local floor
    if tonumber(info['pending']) > 0 then
      floor = redis.call('XPENDING', KEYS[1], info['name'], '-', '+', 1)[1][1]
    else
      floor = after(info['last-delivered-id'])
    end
    local isLive = true
    if deadAfter > 0 then
      isLive = false
      for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], info['name'])) do
        for i = 1, #c, 2 do
          if c[i] == 'idle' and tonumber(c[i + 1]) < deadAfter then isLive = true end
        end
      end
    end
    if all == nil or less(floor, all) then all = floor end
    if isLive then
      if live == nil or less(floor, live) then live = floor end
    else
      deadFloors[#deadFloors + 1] = { info['name'], floor }
    end
  end
  local retention = nil
  if maxAge > 0 and now > maxAge then retention = string.format('%.0f-0', now - maxAge) end
  if maxLen > 0 then
    local over = redis.call('XLEN', KEYS[1]) - maxLen
    if over > 0 then
      local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', math.min(over, LEN_STEP))
      local byLen = after(oldest[#oldest][1])
      if retention == nil or less(retention, byLen) then retention = byLen end
    end
  end
  local cut = nil
  if retention ~= nil then
    cut = retention
    if live ~= nil and less(live, cut) then cut = live end
  end
  if all ~= nil and (cut == nil or less(cut, all)) then cut = all end
  if cut ~= nil then
    removed = redis.call('XTRIM', KEYS[1], 'MINID', cut)
    if removed > 0 then
      for _, d in ipairs(deadFloors) do
        if less(d[2], cut) then dead[#dead + 1] = d[1] end
      end
    end
  end
end

local dlqRemoved = 0
if redis.call('EXISTS', KEYS[2]) == 1 then
  if dlqAge > 0 and now > dlqAge then
    dlqRemoved = dlqRemoved + redis.call('XTRIM', KEYS[2], 'MINID', string.format('%.0f-0', now - dlqAge))
  end
  if dlqLen > 0 then dlqRemoved = dlqRemoved + redis.call('XTRIM', KEYS[2], 'MAXLEN', dlqLen) end
end
return { removed, dlqRemoved, dead }
