-- Shared by every script (prepended to each). ARGV[1] is the queue's key prefix,
-- "sv:{<queue>}:": every key of a queue shares that hash tag, so each script
-- touches one slot and a queue works on Redis Cluster. KEYS[1] (the stream)
-- routes the call.
local P = ARGV[1]
local STREAM = P .. 'stream'
local DELAYED = P .. 'delayed'
local DEAD = P .. 'dead'
local WORKERS = P .. 'workers'
local GROUP = 'workers'
local TERMINAL = {succeeded = true, failed = true, dead = true, cancelled = true}
-- Statuses of a job that waits for a worker (cancel() ends them at once).
local WAITING = {queued = true, delayed = true, retrying = true}

-- Redis 7 scripts replicate their effects, so the server's clock may be read:
-- every time a queue stores is the server's, whatever the clocks of the hosts.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function job_key(id)
  return P .. 'job:' .. id
end

-- The history of a job: a JSON list of events, written only on the unhappy paths
-- (failed attempts, deaths of workers, DEAD), never on a success.
local function add_history(jk, event)
  local raw = redis.call('HGET', jk, 'history')
  local history = {}
  if raw then
    history = cjson.decode(raw)
  end
  history[#history + 1] = event
  redis.call('HSET', jk, 'history', cjson.encode(history))
end

-- A job became terminal: free its dedupe key, let its record expire (a DEAD one
-- stays until it is requeued or purged) and wake whoever awaits its result.
local function finish(jk, id, status, now, ttl)
  redis.call('HSET', jk, 'status', status, 'finished', now)
  redis.call('INCR', P .. 'finished')  -- the rate `top` shows
  local key = redis.call('HGET', jk, 'key')
  if key and key ~= '' then
    local dk = P .. 'key:' .. key
    if redis.call('GET', dk) == id then
      redis.call('DEL', dk)
    end
  end
  if ttl then
    redis.call('PEXPIRE', jk, ttl)
  end
  redis.call('PUBLISH', P .. 'done:' .. id, status)
end

local function to_dead(jk, id, reason, now)
  add_history(jk, {at = now, event = 'dead', reason = reason})
  local entry = redis.call('XADD', DEAD, '*', 'id', id)
  redis.call('HSET', jk, 'error', reason, 'dead_entry', entry)
  finish(jk, id, 'dead', now, nil)
end

-- True when the stream entry is pending and delivered to this consumer: the
-- fence that keeps a worker whose lease was taken from storing an outcome.
local function owned(entry, consumer)
  local p = redis.call('XPENDING', STREAM, GROUP, entry, entry, 1)
  return p[1] ~= nil and p[1][2] == consumer
end

-- An entry leaves the stream once acknowledged: the stream holds only the jobs
-- that wait or are in flight.
local function release(entry)
  redis.call('XACK', STREAM, GROUP, entry)
  redis.call('XDEL', STREAM, entry)
end

local function enqueue_entry(jk, id)
  local entry = redis.call('XADD', STREAM, '*', 'id', id)
  redis.call('HSET', jk, 'status', 'queued', 'entry', entry)
  return entry
end

-- One delivered entry is about to run on `consumer`. Returns the job's fields to
-- run it, or nil when it must not run (gone, cancelled, finished, or DEAD now).
-- `reclaimed`: taken from a worker whose lease expired. That run was not an
-- attempt; it is charged as a delivery only when the job ran alone there, since
-- only then is the job known to be what killed its worker.
local function begin_one(entry, id, consumer, solo, max_deliveries, reclaimed, ttl, now)
  local jk = job_key(id)
  local f = redis.call('HMGET', jk, 'status', 'name', 'args', 'attempts',
    'deliveries', 'solo', 'cancel', 'entry', 'trace')
  local status = f[1]
  if not status or TERMINAL[status] then
    release(entry)
    return nil
  end
  if f[7] == '1' then
    release(entry)
    finish(jk, id, 'cancelled', now, ttl)
    return nil
  end
  local attempts = tonumber(f[4])
  local deliveries = tonumber(f[5])
  if reclaimed and status == 'running' and f[8] == entry then
    attempts = attempts - 1
    local event = {at = now, event = 'worker died', worker = redis.call('HGET', jk, 'worker')}
    if f[6] == '1' then
      deliveries = deliveries + 1
      event.charged = true
    end
    add_history(jk, event)
    if deliveries >= max_deliveries then
      release(entry)
      redis.call('HSET', jk, 'deliveries', deliveries, 'attempts', attempts)
      to_dead(jk, id, 'its worker died while running it alone ' .. deliveries ..
        ' times (max_deliveries=' .. max_deliveries .. ')', now)
      return nil
    end
  end
  attempts = attempts + 1
  redis.call('HSET', jk, 'status', 'running', 'worker', consumer, 'entry', entry,
    'attempts', attempts, 'deliveries', deliveries, 'solo', solo)
  if not redis.call('HGET', jk, 'started') then
    redis.call('HSET', jk, 'started', now)
  end
  return {entry, id, f[2], f[3], attempts, f[9] or ''}
end

-- begin_one, its fields appended to `out` when the job is to run.
local function begin_into(out, entry, id, consumer, solo, max_deliveries, reclaimed, ttl, now)
  local job = begin_one(entry, id, consumer, solo, max_deliveries, reclaimed, ttl, now)
  if job then
    for _, v in ipairs(job) do
      out[#out + 1] = v
    end
  end
end

-- The job id a stream entry carries (its fields, flat).
local function job_id_of(fields)
  for i = 1, #fields, 2 do
    if fields[i] == 'id' then
      return fields[i + 1]
    end
  end
end

-- Reads up to `count` new entries for `consumer` (never blocking) and begins
-- them; appends to `out` the number read, then per job to run: entry, job id,
-- name, args, attempt number, trace context.
local function fetch_new(out, consumer, count, solo, max_deliveries, ttl)
  local reply = redis.call('XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', count,
    'STREAMS', STREAM, '>')
  if not reply then
    out[#out + 1] = 0
    return
  end
  local now = now_ms()
  local entries = reply[1][2]
  out[#out + 1] = #entries
  for _, e in ipairs(entries) do
    begin_into(out, e[1], job_id_of(e[2]), consumer, solo, max_deliveries, false, ttl, now)
  end
end
