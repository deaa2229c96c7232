-- ARGV: prefix, id, input_tokens, output_tokens, cost, soft_ratio.
local expired = reclaim()
local id = ARGV[2]
local input, output, cost, ratio = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5],
  tonumber(ARGV[6])
local hk = P .. 'h:' .. id
local state = redis.call('HGET', hk, 'state')
if not state then return {-1, 'unknown'} end
if state == 'committed' or state == 'rolled_back' then return {-1, state} end
local lapsed = state == 'expired'
local tokens = num(redis.call('HGET', hk, 'tokens'))
local retention = num(redis.call('HGET', hk, 'retention'))
local warned, exhausted = {}, {}
for scope in string.gmatch(redis.call('HGET', hk, 'scopes') or '', '[^\n]+') do
  ensure_scope(scope)
  if not lapsed then release(scope, tokens) end
  spend(scope, input, output, cost, ratio, warned, exhausted)
  keep_scope(scope, retention)
end
redis.call('HSET', hk, 'state', 'committed', 'expires', F(now + retention))
redis.call('EXPIRE', hk, math.ceil(retention) + 1)
redis.call('ZREM', P .. 'leases', id)
local flag = 0
if lapsed then flag = 1 end
return {1, flag, warned, exhausted, expired}
