-- Removes a queue with all its jobs, `chunk` jobs a call (the caller repeats until nothing is left). The
-- first call pauses the queue, so no worker takes a job meanwhile; the last deletes the fixed keys.
-- Without `force`, a queue with active jobs (a worker holds them) is refused and left as it was; with it,
-- their hashes go too and their workers' acks find nothing (acks of a lost lease: reported, no effect).
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake  KEYS[10] events stream  KEYS[11] waiting-children  KEYS[12] flow outbox
-- ARGV[1] job key prefix  ARGV[2] '1' force  ARGV[3] chunk
-- Returns { -1, active } refused; { removed, left } otherwise (left 0: the queue is gone)
local prefix, force, chunk = ARGV[1], ARGV[2] == '1', tonumber(ARGV[3])
local active = redis.call('ZCARD', KEYS[3])
if active > 0 and not force then return { -1, active } end
redis.call('HSET', KEYS[7], 'paused', '1')
local removed = 0
-- The job indexes, flow parents waiting for children included (with their dependency keys).
local indexes = { 1, 2, 3, 4, 5, 6, 11 }
for _, i in ipairs(indexes) do
  if removed < chunk then
    local ids = redis.call('ZRANGE', KEYS[i], 0, chunk - removed - 1)
    for _, id in ipairs(ids) do
      redis.call('DEL', prefix .. id, prefix .. id .. ':deps', prefix .. id .. ':processed', prefix .. id .. ':failed')
    end
    if #ids > 0 then redis.call('ZREMRANGEBYRANK', KEYS[i], 0, #ids - 1) end
    removed = removed + #ids
  end
end
local left = 0
for _, i in ipairs(indexes) do left = left + redis.call('ZCARD', KEYS[i]) end
if left == 0 then redis.call('DEL', KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[12]) end
return { removed, left }
