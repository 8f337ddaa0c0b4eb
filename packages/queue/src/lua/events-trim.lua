-- (Prepended to events-add.lua and flow-resolve.lua.) Appends entries to a queue's events stream and keeps it to
-- about `maxLen` events. An entry holds one event (`e` <JSON> `c` <cum>) or several in order (`b` <JSON array>
-- `n` <count> `c` <cum>). `c` numbers the stream's events: the last event of the entry is event number c, so the
-- events the stream holds are read off the stream itself — last c − first c + first n — and an outside XTRIM or
-- DEL cannot put a count out of step (an XDEL in the middle makes it hold fewer until those are trimmed past).
-- `<stream>:c` remembers the last c, so a publish reads no entry; missing or behind the stream's last entry, it is
-- taken from that entry. Once the appended events pass a multiple of maxLen / 100 (a check per ~1 % of maxLen),
-- the oldest entries are dropped while the rest still hold at least `maxLen` (exact XTRIM MINID); with
-- maxAgeMs > 0, entries older than that on the server's clock go at every call (stream ids are its
-- milliseconds). An entry without `c` (written by something else) counts for nothing and goes with the old ones.
local function events_field(fields, name)
  for i = 1, #fields - 1, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return nil
end
-- entries: { { field, value, count }, … }
local function events_append(stream, maxLen, maxAgeMs, entries)
  local hint = stream .. ':c'
  local added = 0
  for _, e in ipairs(entries) do added = added + e[3] end
  local cum = redis.call('INCRBY', hint, added)
  local before = cum - added
  if before == 0 then
    -- A new count: the stream may hold entries (the key was lost): go on from its last entry's number.
    local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
    local lc = last and tonumber(events_field(last[2], 'c'))
    if lc and lc > 0 then
      before = lc
      cum = lc + added
      redis.call('SET', hint, cum)
    end
  end
  local c = before
  for _, e in ipairs(entries) do
    c = c + e[3]
    if e[1] == 'b' then
      redis.call('XADD', stream, '*', 'b', e[2], 'n', e[3], 'c', c)
    else
      redis.call('XADD', stream, '*', 'e', e[2], 'c', c)
    end
  end
  if maxAgeMs > 0 then
    local t = redis.call('TIME')
    local floor = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - maxAgeMs
    if floor > 0 then redis.call('XTRIM', stream, 'MINID', string.format('%.0f', floor)) end
  end
  local step = math.max(1, math.floor(maxLen / 100))
  if math.floor(cum / step) == math.floor(before / step) then return end
  -- Drop whole entries from the oldest while the rest still hold at least maxLen (read 4, 8, 16, … at a time:
  -- big entries are few, small ones many; at most 2,044 dropped a call).
  local from = '-'
  local keep = nil
  local chunk = 4
  for _ = 1, 9 do
    local rows = redis.call('XRANGE', stream, from, '+', 'COUNT', chunk)
    chunk = chunk * 2
    if #rows == 0 then break end
    for _, r in ipairs(rows) do
      local rc = tonumber(events_field(r[2], 'c'))
      -- Dropping it leaves cum − its c events. An entry without a number is not ours: it goes with the old ones.
      if rc and rc <= cum and cum - rc < maxLen then
        keep = r[1]
        break
      end
    end
    if keep then break end
    from = '(' .. rows[#rows][1]
  end
  if not keep and from ~= '-' then keep = string.sub(from, 2) end
  if keep then redis.call('XTRIM', stream, 'MINID', keep) end
end
