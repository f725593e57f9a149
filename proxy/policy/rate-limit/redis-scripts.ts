// algorithms.ts in Lua, one atomic script per algorithm, so a decision is one EVALSHA round trip.
// Each reads the clock with Redis TIME, so gateways with skewed clocks count in the same windows
// (scripts are replicated by effects, which Redis 7 does by default, so TIME is allowed). ARGV[3] is a
// test clock, sent only by a RedisStore built with `clientClock` (the conformance suite).
// Stored integers are written with %.0f: Lua's default number format keeps 14 digits only.
// Reply: { allowed (1|0), remaining, resetMs, retryAfterMs }.

// Under a test clock, PEXPIRE still counts real milliseconds while the test's clock jumps, so keys
// are kept at least 10 minutes (ttlFloor) lest a slow test machine expire them mid-test.
const NOW = `
local now = tonumber(ARGV[3])
local ttlFloor = 0
if now then
  ttlFloor = 600000
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

export const FIXED_WINDOW_LUA = `
local limit = tonumber(ARGV[1])
local windowMs = tonumber(ARGV[2])
${NOW}
local start = now - now % windowMs
local state = redis.call('HMGET', KEYS[1], 's', 'u')
local used = 0
if tonumber(state[1]) == start then used = tonumber(state[2]) or 0 end
local resetMs = start + windowMs - now
if used < limit then
  used = used + 1
  redis.call('HSET', KEYS[1], 's', string.format('%.0f', start), 'u', string.format('%.0f', used))
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.max(resetMs, ttlFloor)))
  return { 1, limit - used, resetMs, 0 }
end
return { 0, 0, resetMs, resetMs }
`;

export const SLIDING_WINDOW_LUA = `
local limit = tonumber(ARGV[1])
local windowMs = tonumber(ARGV[2])
${NOW}
local start = now - now % windowMs
local state = redis.call('HMGET', KEYS[1], 's', 'u', 'p')
local since = tonumber(state[1])
local used = 0
local previous = 0
-- 'or 0': a hash another algorithm wrote (same namespace) reads like the memory store's fields.
if since == start then
  used = tonumber(state[2]) or 0
  previous = tonumber(state[3]) or 0
elseif since == start - windowMs then
  previous = tonumber(state[2]) or 0
end
local weighted = previous * (windowMs - (now - start))
local budget = limit * windowMs
if weighted + (used + 1) * windowMs <= budget then
  used = used + 1
  local resetMs = start + 2 * windowMs - now
  redis.call('HSET', KEYS[1], 's', string.format('%.0f', start), 'u', string.format('%.0f', used), 'p', string.format('%.0f', previous))
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.max(resetMs, ttlFloor)))
  return { 1, math.floor((budget - weighted - used * windowMs) / windowMs), resetMs, 0 }
end
local resetMs = start + windowMs - now
if used > 0 then resetMs = start + 2 * windowMs - now end
local free = limit - used - 1
local retryAfterMs
if free >= 0 then
  retryAfterMs = start + math.ceil(((previous - free) * windowMs) / previous) - now
else
  retryAfterMs = start + windowMs + math.ceil(((used - limit + 1) * windowMs) / used) - now
end
return { 0, 0, resetMs, retryAfterMs }
`;

export const TOKEN_BUCKET_LUA = `
local rate = tonumber(ARGV[1])
local windowMs = tonumber(ARGV[2])
${NOW}
local capacity = tonumber(ARGV[4])
if capacity <= 0 then capacity = rate end
local tolerance = capacity * windowMs
local state = redis.call('HMGET', KEYS[1], 's', 'u')
local debt = 0
if state[1] then
  debt = math.max(0, (tonumber(state[2]) or 0) - math.max(0, now - tonumber(state[1])) * rate)
end
local nextDebt = debt + windowMs
if nextDebt <= tolerance then
  local resetMs = math.ceil(nextDebt / rate)
  redis.call('HSET', KEYS[1], 's', string.format('%.0f', now), 'u', string.format('%.0f', nextDebt))
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.max(resetMs, ttlFloor)))
  return { 1, math.floor((tolerance - nextDebt) / windowMs), resetMs, 0 }
end
return { 0, 0, math.ceil(debt / rate), math.ceil((nextDebt - tolerance) / rate) }
`;
