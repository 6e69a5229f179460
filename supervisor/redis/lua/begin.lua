-- ARGV: prefix, consumer, solo (0/1), max_deliveries, result ttl ms, then pairs
-- of entry id and job id just read by this consumer. Returns, flat, per job to
-- run: entry, job id, name, args, attempt number, trace context.
local consumer, solo = ARGV[2], ARGV[3]
local max_deliveries, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local now = now_ms()
local out = {}
for i = 6, #ARGV, 2 do
  begin_into(out, ARGV[i], ARGV[i + 1], nil, consumer, solo, max_deliveries, false, ttl, now)
end
return out
