-- ARGV: prefix, id, lease_s. {1}: renewed; {0}: the lease ran out and the hold was
-- reclaimed; {-1, state}: settled or unknown. A replay renews again (harmless).
local id, lease = ARGV[2], tonumber(ARGV[3])
local hk = P .. 'h:' .. id
local state = redis.call('HGET', hk, 'state')
if not state then return {-1, 'unknown'} end
if state == 'committed' or state == 'rolled_back' then return {-1, state} end
if state == 'expired' then return {0} end
local until_ = math.max(num(redis.call('HGET', hk, 'expires')), now + lease)
local retention = num(redis.call('HGET', hk, 'retention'))
redis.call('HSET', hk, 'expires', F(until_))
redis.call('EXPIRE', hk, math.ceil(until_ - now + retention) + 1)
redis.call('ZADD', P .. 'leases', until_, id)
-- the scopes it holds tokens in outlive the lease
for scope in string.gmatch(redis.call('HGET', hk, 'scopes') or '', '[^\n]+') do
  local sk = scope_key(scope)
  local ttl = redis.call('TTL', sk)
  if ttl >= 0 and ttl < until_ - now + 1 then
    redis.call('EXPIRE', sk, math.ceil(until_ - now) + 1)
  end
  local score = tonumber(redis.call('ZSCORE', P .. 'scopes', scope))
  if score and score < until_ then redis.call('ZADD', P .. 'scopes', until_, scope) end
end
return {1}
