-- ARGV: prefix, id, request id. Idempotent: a replay of the same request returns {1}.
local id, request = ARGV[2], ARGV[3]
local hk = P .. 'h:' .. id
local state = redis.call('HGET', hk, 'state')
if not state then return {-1, 'unknown'} end
if state == 'rolled_back' and redis.call('HGET', hk, 'request') == request then return {1} end
if state == 'committed' or state == 'rolled_back' then return {-1, state} end
local retention = num(redis.call('HGET', hk, 'retention'))
if state == 'active' then
  local tokens = num(redis.call('HGET', hk, 'tokens'))
  for scope in string.gmatch(redis.call('HGET', hk, 'scopes') or '', '[^\n]+') do
    release(scope, tokens)
  end
end
redis.call('HSET', hk, 'state', 'rolled_back', 'expires', F(now + retention), 'request', request)
redis.call('EXPIRE', hk, math.ceil(retention) + 1)
redis.call('ZREM', P .. 'leases', id)
reclaim()
return {1}
