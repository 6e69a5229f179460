-- Shared by every script (prepended to each). ARGV[1] is the queue's key prefix,
-- "sv:{<queue>}:": every key of a queue shares that hash tag, so each script
-- touches one slot and a queue works on Redis Cluster. KEYS[1] (the stream)
-- routes the call.
local P = ARGV[1]
local STREAM = P .. 'stream'
local DELAYED = P .. 'delayed'
local DEAD = P .. 'dead'
local WORKERS = P .. 'workers'
local MALFORMED = P .. 'malformed'
-- The set-aside stream keeps the newest this many malformed entries (about).
local MALFORMED_MAX = 10000
local GROUP = 'workers'
local TERMINAL = {succeeded = true, failed = true, dead = true, cancelled = true}
-- Statuses of a job that waits for a worker (cancel() ends them at once).
local WAITING = {queued = true, delayed = true, retrying = true}
local STATUSES = {queued = true, delayed = true, running = true, retrying = true,
  succeeded = true, failed = true, dead = true, cancelled = true}

-- Redis 7 scripts replicate their effects, so the server's clock may be read:
-- every time a queue stores is the server's, whatever the clocks of the hosts.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function job_key(id)
  return P .. 'job:' .. id
end

-- What this queue writes is read back as untrusted: anything in its keys may have
-- been written by hand, by a tool or by another version.

-- A job id as enqueue writes them: 1 to 200 printable ASCII characters.
local function valid_id(id)
  return type(id) == 'string' and #id > 0 and #id <= 200 and not id:find('[^!-~]')
end

-- A flat list of fields and values as an object, for a report.
local function as_object(flat)
  local object = {}
  for i = 1, #flat - 1, 2 do
    object[tostring(flat[i])] = flat[i + 1]
  end
  return object
end

-- Sets aside a malformed entry of `key`: its reason and its raw contents go to the
-- queue's set-aside stream (capped), for `q.malformed()` and the worker's log.
local function set_aside(source, key, reason, raw)
  redis.call('XADD', MALFORMED, 'MAXLEN', '~', MALFORMED_MAX, '*', 'source', source,
    'key', key, 'reason', reason, 'raw', cjson.encode(raw))
end

-- The history of a job: a JSON list of events, written only on the unhappy paths
-- (failed attempts, deaths of workers, DEAD), never on a success.
local function add_history(jk, event)
  local raw = redis.call('HGET', jk, 'history')
  local history = {}
  if raw then
    local ok, decoded = pcall(cjson.decode, raw)
    if ok and type(decoded) == 'table' then
      history = decoded
    else
      history = {{event = 'unreadable history', raw = raw}}
    end
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

-- The fields a begin script returns per entry: six, and for a job to run
-- {entry, id, name, args, attempt number, trace}. Two markers take the same six
-- (attempt < 0) so that the worker logs them: DEAD in the script {entry, id, name,
-- reason, -1, ''}, and an entry set aside {entry, id, '', reason, -2, ''}.
local DEAD_MARK, ASIDE_MARK = -1, -2

-- Sets aside stream entry `entry` (its fields `fields`, read when nil) with
-- `reason`, and releases it; returns the marker.
local function aside_entry(entry, id, fields, reason)
  if not fields then
    local found = redis.call('XRANGE', STREAM, entry, entry)
    fields = found[1] and found[1][2] or {}
  end
  release(entry)
  set_aside('stream', STREAM, 'entry ' .. entry .. ': ' .. reason, as_object(fields))
  return {entry, valid_id(id) and id or '', '', reason, ASIDE_MARK, ''}
end

-- Why a job's record cannot be run (nil when it can): fields as begin_one reads
-- them.
local function malformed_record(f)
  if not STATUSES[f[1]] then
    return 'its record has no job status (status=' .. cjson.encode(f[1] or '') .. ')'
  end
  if not f[2] or f[2] == '' then
    return 'its record has no job name'
  end
  if not f[3] then
    return 'its record has no arguments'
  end
  if not tonumber(f[4]) then
    return 'its record\'s attempts is not a number (' .. cjson.encode(f[4] or '') .. ')'
  end
  if not tonumber(f[5]) then
    return 'its record\'s deliveries is not a number (' .. cjson.encode(f[5] or '') .. ')'
  end
  return nil
end

-- One delivered entry is about to run on `consumer`. Returns the job's fields to
-- run it, a marker (DEAD or set aside, above), or nil when it must not run
-- (cancelled or finished). `fields`: the entry's, when at hand (for a report).
-- `reclaimed`: taken from a worker whose lease expired. That run was not an
-- attempt; it is charged as a delivery only when the job ran alone there, since
-- only then is the job known to be what killed its worker.
local function begin_one(entry, id, fields, consumer, solo, max_deliveries, reclaimed, ttl, now)
  if not valid_id(id) then
    return aside_entry(entry, id, fields, 'no job id (an "id" field of 1 to 200 printable ASCII characters)')
  end
  local jk = job_key(id)
  local f = redis.call('HMGET', jk, 'status', 'name', 'args', 'attempts',
    'deliveries', 'solo', 'cancel', 'entry', 'trace')
  local status = f[1]
  if not status and redis.call('EXISTS', jk) == 0 then
    return aside_entry(entry, id, fields, 'no record of job ' .. id .. ' (it is gone)')
  end
  if TERMINAL[status] then
    release(entry)
    return nil
  end
  local bad = malformed_record(f)
  if bad then
    release(entry)
    to_dead(jk, id, bad, now)
    return {entry, id, f[2] or '', bad, DEAD_MARK, ''}
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
      local reason = 'its worker died while running it alone ' .. deliveries ..
        ' times (max_deliveries=' .. max_deliveries .. ')'
      to_dead(jk, id, reason, now)
      return {entry, id, f[2], reason, DEAD_MARK, ''}
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
local function begin_into(out, entry, id, fields, consumer, solo, max_deliveries, reclaimed, ttl, now)
  local job = begin_one(entry, id, fields, consumer, solo, max_deliveries, reclaimed, ttl, now)
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
    begin_into(out, e[1], job_id_of(e[2]), e[2], consumer, solo, max_deliveries, false, ttl, now)
  end
end
