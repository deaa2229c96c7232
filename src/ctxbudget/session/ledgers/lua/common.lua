-- Shared by every ctxbudget ledger script. ARGV[1] is the key prefix. Numbers are written
-- with string.format so that large integers never turn into exponent notation.
local P = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000

local function I(n) return string.format('%d', n) end
local function F(x) return string.format('%.6f', x) end
local function num(v) if v then return tonumber(v) else return 0 end end

local function scope_key(scope) return P .. 's:' .. scope end

local function ensure_scope(scope)
  local sk = scope_key(scope)
  if redis.call('EXISTS', sk) == 0 then
    redis.call('HSET', sk, 'created', F(now), 'used', 0, 'reserved', 0, 'calls', 0,
      'input', 0, 'output', 0, 'cost', 0, 'warned', 0, 'exhausted', 0, 'cap', '')
  end
  return sk
end

local function keep_scope(scope, retention)
  local sk = scope_key(scope)
  redis.call('HSET', sk, 'updated', F(now), 'expires', F(now + retention))
  redis.call('EXPIRE', sk, math.ceil(retention) + 1)
  redis.call('ZADD', P .. 'scopes', now + retention, scope)
end

local function release(scope, tokens)
  local sk = scope_key(scope)
  if redis.call('EXISTS', sk) == 1 then
    local left = num(redis.call('HGET', sk, 'reserved')) - tokens
    if left < 0 then left = 0 end
    redis.call('HSET', sk, 'reserved', I(left), 'updated', F(now))
  end
end

-- Return every expired lease's tokens to its scopes; returns {id, tokens, scopes, ...}.
local function reclaim()
  local out = {}
  local ids = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now)
  for _, id in ipairs(ids) do
    local hk = P .. 'h:' .. id
    local tokens = num(redis.call('HGET', hk, 'tokens'))
    local scopes = redis.call('HGET', hk, 'scopes') or ''
    for scope in string.gmatch(scopes, '[^\n]+') do release(scope, tokens) end
    local retention = num(redis.call('HGET', hk, 'retention'))
    redis.call('HSET', hk, 'state', 'expired', 'expires', F(now + retention))
    redis.call('EXPIRE', hk, math.ceil(retention) + 1)
    redis.call('ZREM', P .. 'leases', id)
    table.insert(out, id)
    table.insert(out, I(tokens))
    table.insert(out, scopes)
  end
  return out
end

-- One call's usage: input counts every input token, cached and written are parts of it (kept
-- as the client's integer strings, exact for HINCRBY); cost is the client's exact decimal
-- string, passed through unchanged (no rounding), or '' when the cost is unknown.
local function usage(input, output, cached, written, cost)
  return {input = tonumber(input), output = tonumber(output), cached = cached or '0',
    written = written or '0', cost = cost}
end

-- Release `released` held tokens and add usage `u` to one scope; note the scope in warned /
-- exhausted when it crosses a line now, and in overspent ({scope, tokens, spent, cause}) when
-- this step pushes used + reserved further past the cap.
local function spend(scope, u, ratio, released, cause, acc)
  local sk = scope_key(scope)
  local input, output = u.input, u.output
  local before = num(redis.call('HGET', sk, 'used')) + num(redis.call('HGET', sk, 'reserved'))
  if released > 0 then release(scope, released) end
  local used = redis.call('HINCRBY', sk, 'used', input + output)
  redis.call('HINCRBY', sk, 'calls', 1)
  redis.call('HINCRBY', sk, 'input', input)
  redis.call('HINCRBY', sk, 'output', output)
  redis.call('HINCRBY', sk, 'cached', u.cached)
  redis.call('HINCRBY', sk, 'written', u.written)
  if u.cost == '' then
    redis.call('HINCRBY', sk, 'unpriced', 1)
  else
    redis.call('HINCRBYFLOAT', sk, 'cost', u.cost)
  end
  local cap = redis.call('HGET', sk, 'cap')
  if cap and cap ~= '' then
    cap = tonumber(cap)
    local after = used + num(redis.call('HGET', sk, 'reserved'))
    local over = math.max(0, after - cap) - math.max(0, before - cap)
    if over > 0 then
      redis.call('HINCRBY', sk, 'overspent', over)
      redis.call('HINCRBY', sk, 'overspends', 1)
      table.insert(acc.overspent, {scope, I(over), I(input + output), cause})
    end
    if redis.call('HGET', sk, 'warned') ~= '1' and used >= ratio * cap then
      redis.call('HSET', sk, 'warned', 1)
      table.insert(acc.warned, scope)
    end
    if redis.call('HGET', sk, 'exhausted') ~= '1' and used >= cap then
      redis.call('HSET', sk, 'exhausted', 1)
      table.insert(acc.exhausted, scope)
    end
  end
end

local function settled() return {warned = {}, exhausted = {}, overspent = {}} end
