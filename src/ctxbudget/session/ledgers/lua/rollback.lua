-- KEYS: leases, scopes, the hold (prefix .. 'h:' .. id). ARGV: request id.
-- Idempotent: a replay of the same request returns {1}.
local hk, request = KEYS[3], ARGV[1]
local h = redis.call('HMGET', hk, 'state', 'request', 'tokens', 'retention', 'scopes')
local state = h[1]
if not state then return {-1, 'unknown'} end
if state == 'rolled_back' and h[2] == request then return {1} end
if state == 'committed' or state == 'rolled_back' then return {-1, state} end
local retention = num(h[4])
if state == 'active' then
  local tokens = num(h[3])
  for scope in string.gmatch(h[5] or '', '[^\n]+') do release(scope, tokens) end
end
redis.call('HSET', hk, 'state', 'rolled_back', 'expires', F(now + retention), 'request', request)
redis.call('EXPIRE', hk, math.ceil(retention) + 1)
redis.call('ZREM', LEASES, key_name(hk, 3))
reclaim()
return {1}
