-- Group-aware trimming: removes only entries every consumer group has acknowledged. The low-water mark is,
-- over all groups, the lowest pending id, or — for a group with nothing pending — the id right after its
-- last-delivered id. XTRIM MINID removes entries below it. No group: nothing is removed.
-- KEYS[1] events:{type}
-- Returns the number of entries removed.
local function parse(id)
  local dash = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return 0 end
local low = nil
for _, g in ipairs(groups) do
  local info = {}
  for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
  local mark
  if tonumber(info['pending']) > 0 then
    mark = redis.call('XPENDING', KEYS[1], info['name'], '-', '+', 1)[1][1]
  else
    local ms, seq = parse(info['last-delivered-id'])
    mark = string.format('%.0f-%.0f', ms, seq + 1)
  end
  if low == nil or less(mark, low) then low = mark end
end
return redis.call('XTRIM', KEYS[1], 'MINID', low)
