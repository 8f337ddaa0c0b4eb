-- Takes over entries idle for at least min-idle (a crashed consumer's, or failed ones whose backoff elapsed)
-- and returns them with their delivery counts, in one round trip. One XAUTOCLAIM looks at only about
-- 10 × COUNT pending entries, so a consumer with one free slot would never reach a stale entry behind dozens
-- of live ones if every scan started at 0-0: the scan resumes at the caller's cursor and goes on, up to
-- ARGV[6] XAUTOCLAIM calls, until it has claimed ARGV[4] entries or reached the end of the pending list.
-- KEYS[1] events:{type}
-- ARGV[1] group
-- ARGV[2] consumer taking them
-- ARGV[3] min idle ms
-- ARGV[4] max entries (>= 1)
-- ARGV[5] cursor: pending-list id to start scanning at ('0-0': the start)
-- ARGV[6] max XAUTOCLAIM calls (the scan budget)
-- Returns { next cursor ('0-0' when the scan reached the end), { {id, {field, value, …}, deliveries}, … } }.
-- Entries deleted from the stream are dropped from the group's pending list by XAUTOCLAIM itself (Redis 7)
-- and not returned.
local out = {}
local cursor = ARGV[5]
local want = tonumber(ARGV[4])
for _ = 1, tonumber(ARGV[6]) do
  local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor, 'COUNT', want - #out)
  cursor = claimed[1]
  for _, entry in ipairs(claimed[2]) do
    local id = entry[1]
    if entry[2] then
      local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
      local deliveries = 1
      if p[1] then deliveries = p[1][4] end
      out[#out + 1] = { id, entry[2], deliveries }
    end
  end
  if #out >= want or cursor == '0-0' then break end
end
return { cursor, out }
