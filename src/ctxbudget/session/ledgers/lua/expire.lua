-- KEYS: leases, scopes. Reclaims expired leases and forgets scopes past their
-- retention.
local expired = reclaim()
local gone = redis.call('ZRANGEBYSCORE', SCOPES, '-inf', now)
for _, scope in ipairs(gone) do
  redis.call('DEL', scope_key(scope))
  redis.call('ZREM', SCOPES, scope)
end
return expired
