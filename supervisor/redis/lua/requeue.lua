-- ARGV: prefix, then job ids. Puts DEAD jobs back in the stream with a fresh
-- budget (attempts and deliveries at 0; the history is kept). Returns the count.
local n = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local jk = job_key(id)
  local f = redis.call('HMGET', jk, 'status', 'dead_entry', 'key')
  if f[1] == 'dead' then
    if f[2] then
      redis.call('XDEL', DEAD, f[2])
    end
    redis.call('HDEL', jk, 'dead_entry', 'finished', 'error', 'traceback', 'solo', 'cancel')
    redis.call('HSET', jk, 'attempts', 0, 'deliveries', 0)
    if f[3] and f[3] ~= '' then
      redis.call('SET', P .. 'key:' .. f[3], id)
    end
    enqueue_entry(jk, id)
    n = n + 1
  end
end
return n
