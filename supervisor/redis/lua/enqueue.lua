-- ARGV: prefix, then per job: id, name, args, key ('' for none), when kind
-- ('n' now, 'd' delay in ms, 'a' at epoch ms), when value, trace context (a W3C
-- traceparent, '' for none).
-- Returns per job: the job id (an existing one when its key deduplicated it) and
-- 1 when it was created, 0 when deduplicated.
local now = now_ms()
local out = {}
for i = 2, #ARGV, 7 do
  local id, name, args, key = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local kind, when = ARGV[i + 4], tonumber(ARGV[i + 5])
  local existing = nil
  if key ~= '' then
    local dk = P .. 'key:' .. key
    local other = redis.call('GET', dk)
    if other then
      local status = valid_id(other) and redis.call('HGET', job_key(other), 'status')
      if STATUSES[status] and not TERMINAL[status] then
        existing = other
      elseif not status or not STATUSES[status] then
        -- (a finished job frees its key: one left behind points at nothing)
        set_aside('key', dk, 'dedupe key ' .. cjson.encode(key) .. ' pointed at ' ..
          cjson.encode(other) .. ', which is not a job of this queue', {value = other})
      end
    end
    if not existing then
      redis.call('SET', dk, id)
    end
  end
  if existing then
    out[#out + 1] = existing
    out[#out + 1] = 0
  else
    local run_at = now
    if kind == 'd' then
      run_at = now + when
    elseif kind == 'a' then
      run_at = when
    end
    local jk = job_key(id)
    redis.call('HSET', jk, 'name', name, 'args', args, 'attempts', 0,
      'deliveries', 0, 'key', key, 'created', now)
    if ARGV[i + 6] ~= '' then
      redis.call('HSET', jk, 'trace', ARGV[i + 6])
    end
    if run_at > now then
      redis.call('HSET', jk, 'status', 'delayed', 'run_at', run_at)
      redis.call('ZADD', DELAYED, run_at, id)
    else
      enqueue_entry(jk, id)
    end
    out[#out + 1] = id
    out[#out + 1] = 1
  end
end
return out
