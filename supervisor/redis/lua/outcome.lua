-- ARGV: prefix, consumer, result ttl ms, refill count, solo (0/1), max_deliveries,
-- then per job: entry, job id, kind, a, b.
-- kinds: ok (a: result), retry (a: event JSON, b: delay ms), fail (a: event JSON),
-- cancel, dead (a: reason), back (handed back by a draining worker: not an attempt).
-- Each is stored only while the entry is still this consumer's (the fence).
-- Returns per job 1 (stored) or 0 (the lease was lost; nothing written); then,
-- when the refill count is not 0, new jobs for the slots these outcomes free, as
-- fetch.lua returns them (one round trip per job at concurrency 1).
local consumer, ttl = ARGV[2], tonumber(ARGV[3])
local refill = tonumber(ARGV[4])
local now = now_ms()
local out = {}
for i = 7, #ARGV, 5 do
  local entry, id, kind, a, b = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  if not owned(entry, consumer) then
    out[#out + 1] = 0
  else
    out[#out + 1] = 1
    local jk = job_key(id)
    release(entry)
    if redis.call('EXISTS', jk) == 0 then
      -- expired or purged while it ran: nothing to record
    elseif kind == 'ok' then
      redis.call('HSET', jk, 'result', a)
      finish(jk, id, 'succeeded', now, ttl)
    elseif kind == 'retry' or kind == 'fail' then
      local event = cjson.decode(a)
      event.at = now
      add_history(jk, event)
      redis.call('HSET', jk, 'error', event.error, 'traceback', event.traceback or '')
      if kind == 'fail' then
        finish(jk, id, 'failed', now, ttl)
      elseif tonumber(b) <= 0 then
        enqueue_entry(jk, id)
      else
        redis.call('HSET', jk, 'status', 'retrying', 'run_at', now + tonumber(b))
        redis.call('ZADD', DELAYED, now + tonumber(b), id)
      end
    elseif kind == 'cancel' then
      finish(jk, id, 'cancelled', now, ttl)
    elseif kind == 'dead' then
      to_dead(jk, id, a, now)
    elseif kind == 'back' then
      local f = redis.call('HMGET', jk, 'status', 'entry')
      if f[1] == 'running' and f[2] == entry then
        redis.call('HINCRBY', jk, 'attempts', -1)
      end
      if not TERMINAL[f[1]] then
        enqueue_entry(jk, id)
      end
    end
  end
end
if refill > 0 then
  fetch_new(out, consumer, refill, ARGV[5], tonumber(ARGV[6]), ttl)
end
return out
