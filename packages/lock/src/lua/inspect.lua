-- A consistent snapshot of one lock for operators (read-only): `inspect` on the Redis backend.
-- KEYS[1] owners, KEYS[2] expiry (shared holders), KEYS[3] queue (fair waiters), KEYS[4] qinfo, KEYS[5] waiters
-- Returns { mode or '', now, { token, count, fence, ms left }..., '|', { queued token, ms left }...,
--           '|', { registered writer-waiter token, ms left }... }
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local owners = redis.call('HGETALL', KEYS[1])
local fields = {}
for i = 1, #owners, 2 do fields[owners[i]] = owners[i + 1] end
local mode = fields['mode'] or ''
-- An exclusive hold is the hash alone: its TTL is the lease's.
local pttl = redis.call('PTTL', KEYS[1])
local out = { mode, now }
for field, count in pairs(fields) do
  if string.sub(field, 1, 2) == 't:' then
    local token = string.sub(field, 3)
    local left = pttl
    if mode == 'shared' then
      local expiry = redis.call('ZSCORE', KEYS[2], token)
      left = expiry and (tonumber(expiry) - now) or -1
    end
    if left > 0 then
      table.insert(out, token)
      table.insert(out, tonumber(count))
      table.insert(out, tonumber(fields['f:' .. token] or '0'))
      table.insert(out, left)
    end
  end
end
table.insert(out, '|')
for _, token in ipairs(redis.call('LRANGE', KEYS[3], 0, 999)) do
  local info = redis.call('HGET', KEYS[4], token)
  if info then
    local expiry = tonumber(string.sub(info, 1, string.find(info, ':', 1, true) - 1))
    if expiry > now then
      table.insert(out, token)
      table.insert(out, expiry - now)
    end
  end
end
table.insert(out, '|')
local registered = redis.call('ZRANGEBYSCORE', KEYS[5], '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1000)
for i = 1, #registered, 2 do
  table.insert(out, registered[i])
  table.insert(out, tonumber(registered[i + 1]) - now)
end
return out
