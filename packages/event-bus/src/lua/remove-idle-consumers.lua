-- Removes consumers idle for at least min-idle that hold no pending entries — checked and deleted in one
-- atomic step, so a consumer that just read something is never removed with its entries.
-- KEYS[1] events:{type}
-- ARGV[1] group
-- ARGV[2] min idle ms
-- Returns the removed consumers' names.
local removed = {}
local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then return removed end
for _, c in ipairs(consumers) do
  local info = {}
  for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
  if tonumber(info['pending']) == 0 and tonumber(info['idle']) >= tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
    removed[#removed + 1] = info['name']
  end
end
return removed
