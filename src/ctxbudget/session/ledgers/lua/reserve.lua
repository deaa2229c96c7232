-- ARGV: prefix, id, tokens, lease_s, n, then n triples (scope, cap or '', retention_s).
-- Idempotent per reservation id: a replay (a client retry after a lost reply) holds nothing
-- more and returns ok, the first outcome.
local expired = reclaim()
local id, tokens, lease, n = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if redis.call('EXISTS', P .. 'h:' .. id) == 1 then return {1, {}, expired} end
for i = 0, n - 1 do
  local scope, cap = ARGV[6 + 3 * i], ARGV[7 + 3 * i]
  if cap ~= '' then
    local sk = scope_key(scope)
    local used = num(redis.call('HGET', sk, 'used'))
    local reserved = num(redis.call('HGET', sk, 'reserved'))
    if used + reserved + tokens > tonumber(cap) then
      -- exhausted: the committed spend alone leaves less room than this call asks for
      local newly = 0
      if tonumber(cap) - used < tokens and redis.call('HGET', sk, 'exhausted') ~= '1' then
        ensure_scope(scope)
        redis.call('HSET', sk, 'cap', cap, 'exhausted', 1)
        keep_scope(scope, tonumber(ARGV[8 + 3 * i]))
        newly = 1
      end
      local flagged = 0
      if redis.call('HGET', sk, 'exhausted') == '1' then flagged = 1 end
      return {0, {scope, I(used), I(reserved), cap, newly, flagged}, expired}
    end
  end
end
local scopes, longest = {}, 0
for i = 0, n - 1 do
  local scope, cap, retention = ARGV[6 + 3 * i], ARGV[7 + 3 * i], tonumber(ARGV[8 + 3 * i])
  local sk = ensure_scope(scope)
  redis.call('HSET', sk, 'cap', cap)
  redis.call('HINCRBY', sk, 'reserved', tokens)
  keep_scope(scope, retention + lease)
  table.insert(scopes, scope)
  if retention > longest then longest = retention end
end
local hk = P .. 'h:' .. id
redis.call('HSET', hk, 'tokens', I(tokens), 'scopes', table.concat(scopes, '\n'),
  'state', 'active', 'created', F(now), 'expires', F(now + lease), 'retention', F(longest))
redis.call('EXPIRE', hk, math.ceil(lease + longest) + 1)
redis.call('ZADD', P .. 'leases', now + lease, id)
return {1, {}, expired}
