-- Replays one dead letter to the group that dead-lettered it, atomically: appends its envelope fields to the
-- type's stream with replay_for_group = that group (consumers of every other group acknowledge it without
-- handling), and deletes it from the DLQ. events:all is not touched: the event is in it already. Both keys
-- share the {type} hash tag, so this is atomic on Redis Cluster too.
-- KEYS[1] events:{type}
-- KEYS[2] events:dlq:{type}
-- ARGV[1] dead letter id
-- Returns the new entry's id in events:{type}, or false when there is no such dead letter.
local rows = redis.call('XRANGE', KEYS[2], ARGV[1], ARGV[1])
if #rows == 0 then return false end
local bookkeeping = {
  dlq_reason = true, dlq_deliveries = true, dlq_group = true, dlq_original_id = true, dlq_at = true,
  replay_for_group = true,
}
local flat = rows[1][2]
local fields = {}
local group = ''
for i = 1, #flat, 2 do
  if flat[i] == 'dlq_group' then group = flat[i + 1] end
  if not bookkeeping[flat[i]] then
    fields[#fields + 1] = flat[i]
    fields[#fields + 1] = flat[i + 1]
  end
end
if group == '' then return redis.error_reply('ERR dead letter ' .. ARGV[1] .. ' records no dlq_group') end
fields[#fields + 1] = 'replay_for_group'
fields[#fields + 1] = group
local id = redis.call('XADD', KEYS[1], '*', unpack(fields))
redis.call('XDEL', KEYS[2], ARGV[1])
return id
