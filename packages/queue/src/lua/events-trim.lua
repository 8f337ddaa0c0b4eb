-- (Prepended to events-add.lua and flow-resolve.lua.) Appends entries to a queue's events stream and keeps it to
-- about `maxLen` events. An entry holds one event (`e` <JSON> `c` <cum>) or several in order (`b` <JSON array>
-- `n` <count> `c` <cum>). `c` numbers the stream's events: the last event of the entry is event number c, so the
-- events the stream holds are read off the stream itself — last c − first c + first n — and an outside XTRIM or
-- DEL cannot put a count out of step (an XDEL in the middle makes it hold fewer until those are trimmed past).
-- `<stream>:c` remembers the last c, so a publish reads no entry; missing (or not a number), it is taken from the
-- stream's last entry. Once the appended events pass a multiple of maxLen / 100 (a check per ~1 % of maxLen),
-- the oldest entries are dropped while the rest still hold at least `maxLen` (exact XTRIM MINID); with
-- maxAgeMs > 0, entries older than that on the server's clock go at every call (stream ids are its
-- milliseconds).
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
  local ok, cum = pcall(redis.call, 'INCRBY', hint, added)
  if not ok then
    -- Not a number (written by something else): start it again.
    redis.call('DEL', hint)
    cum = redis.call('INCRBY', hint, added)
  end
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
  -- Drop whole entries from the oldest while the rest still hold at least maxLen, reading 4, 8, 16, … up to 4,096
  -- at a time (big entries are few, small ones many) until the first entry to keep — at most ~65,000 entries a
  -- call, above the 10,000 a check adds at the largest maxLen (1,000,000) with one event per entry. Events from a numbered entry
  -- on: cum − its c + its n. An entry without a usable number (written by something else, or numbered before the
  -- count was reset: c > cum) is dropped only with the numbered entry after it, once that one alone starts at
  -- least maxLen events — so such entries never cost events within maxLen, and do not stay for ever.
  local from = '-'
  local keep = nil
  local unknown = nil -- the first entry without a usable number since the last dropped one
  local chunk = 4
  for _ = 1, 24 do
    local rows = redis.call('XRANGE', stream, from, '+', 'COUNT', chunk)
    chunk = math.min(chunk * 2, 4096)
    if #rows == 0 then break end
    for _, r in ipairs(rows) do
      local rc = tonumber(events_field(r[2], 'c'))
      if rc and rc <= cum then
        local n = 1
        if r[2][1] == 'b' then n = tonumber(events_field(r[2], 'n')) or 1 end
        if cum - rc + n < maxLen then
          -- Not even from here on are there maxLen: keep the unnumbered ones before it too.
          keep = unknown or r[1]
          break
        end
        unknown = nil
        if cum - rc < maxLen then
          keep = r[1]
          break
        end
      elseif not unknown then
        unknown = r[1]
      end
    end
    if keep then break end
    from = '(' .. rows[#rows][1]
  end
  if not keep and from ~= '-' then keep = unknown or string.sub(from, 2) end
  if keep then redis.call('XTRIM', stream, 'MINID', keep) end
end
