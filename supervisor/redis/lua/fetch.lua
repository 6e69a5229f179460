-- ARGV: prefix, consumer, count, solo (0/1), max_deliveries, result ttl ms.
-- Reads up to `count` new entries for this consumer (without blocking) and
-- begins them, in one round trip. Returns {entries read, then per job to run:
-- entry, job id, name, args, attempt number}; 0 entries read means the stream
-- had nothing new (the caller then blocks on XREADGROUP itself).
local consumer, count, solo = ARGV[2], ARGV[3], ARGV[4]
local max_deliveries, ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
local reply = redis.call('XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', count,
  'STREAMS', STREAM, '>')
if not reply then
  return {0}
end
local now = now_ms()
local entries = reply[1][2]
local out = {#entries}
for _, e in ipairs(entries) do
  local fields, id = e[2], nil
  for i = 1, #fields, 2 do
    if fields[i] == 'id' then
      id = fields[i + 1]
    end
  end
  local job = begin_one(e[1], id, consumer, solo, max_deliveries, false, ttl, now)
  if job then
    for _, v in ipairs(job) do
      out[#out + 1] = v
    end
  end
end
return out
