-- KEYS: leases, scopes, the hold (prefix .. 'h:' .. id). ARGV: lease_s. {1}: renewed;
-- {0}: the lease ran out and the hold was reclaimed; {-1, state}: settled or unknown. A
-- replay renews again (harmless).
local hk, lease = KEYS[3], tonumber(ARGV[1])
local id = key_name(hk, 3)
local h = redis.call('HMGET', hk, 'state', 'expires', 'retention', 'scopes')
local state = h[1]
if not state then return {-1, 'unknown'} end
if state == 'committed' or state == 'rolled_back' then return {-1, state} end
if state == 'expired' then return {0} end
local until_ = math.max(num(h[2]), now + lease)
local retention = num(h[3])
redis.call('HSET', hk, 'expires', F(until_))
redis.call('EXPIRE', hk, math.ceil(until_ - now + retention) + 1)
redis.call('ZADD', LEASES, until_, id)
-- the scopes it holds tokens in outlive the lease
for scope in string.gmatch(h[4] or '', '[^\n]+') do
  local sk = scope_key(scope)
  local ttl = redis.call('TTL', sk)
  if ttl >= 0 and ttl < until_ - now + 1 then
    redis.call('EXPIRE', sk, math.ceil(until_ - now) + 1)
  end
  local score = tonumber(redis.call('ZSCORE', SCOPES, scope))
  if score and score < until_ then redis.call('ZADD', SCOPES, until_, scope) end
end
return {1}
