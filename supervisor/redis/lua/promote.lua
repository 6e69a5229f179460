-- ARGV: prefix, limit. Moves the delayed and retrying jobs that are due into the
-- stream. Returns {moved, ms until the next one is due (-1: none)}.
local now = now_ms()
local due = redis.call('ZRANGE', DELAYED, '-inf', now, 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(due) do
  redis.call('ZREM', DELAYED, id)
  local jk = job_key(id)
  local status = valid_id(id) and redis.call('HGET', jk, 'status')
  if status == 'delayed' or status == 'retrying' then
    enqueue_entry(jk, id)
  else
    -- (cancel() and requeue take a job out of this set with its status change)
    local why = 'its record is gone'
    if not valid_id(id) then
      why = 'not a job id'
    elseif status then
      why = 'its status is ' .. cjson.encode(status) .. ', not delayed or retrying'
    end
    set_aside('delayed', DELAYED, 'member ' .. cjson.encode(id) .. ': ' .. why, {member = id})
  end
end
local nxt = redis.call('ZRANGE', DELAYED, 0, 0, 'WITHSCORES')
local wait = -1
if nxt[2] then
  wait = math.max(0, tonumber(nxt[2]) - now)
end
return {#due, wait}
