"""Lua scripts of the Redis store for running jobs: promote, claim, progress and finish."""

from __future__ import annotations

from tuiqueue.store.redis_lua_prelude import PRELUDE

PROMOTE = """
local function promote()
  local due = redis.call('ZRANGEBYSCORE', P .. 'sched', '-inf', NOW, 'LIMIT', 0, 5000)
  for _, id in ipairs(due) do
    if redis.call('HGET', jkey(id), 'status') == 'scheduled' then
      redis.call('HSET', jkey(id), 'status', 'pending')
      index(id, 'scheduled', 'pending')
      touch(id)
    else
      redis.call('ZREM', P .. 'sched', id)
    end
  end
  if not redis.call('GET', P .. 'wdirty') then return end
  redis.call('DEL', P .. 'wdirty')
  for _, id in ipairs(redis.call('ZRANGE', P .. 's:waiting', 0, -1)) do
    local k = jkey(id)
    local reason, ready = false, true
    for _, d in ipairs(cjson.decode(redis.call('HGET', k, 'depends_on') or '[]')) do
      local st = redis.call('HGET', jkey(d), 'status')
      if not st then reason = 'dependency job ' .. d .. ' no longer exists'; break end
      if st == 'failed' or st == 'cancelled' then
        reason = 'dependency job ' .. d .. ' ' .. st
        break
      end
      if st ~= 'completed' then ready = false end
    end
    local new = false
    if reason then
      redis.call('HSET', k, 'status', 'failed', 'error', reason, 'finished_at', NOW)
      new = 'failed'
    elseif ready then
      local run_at = redis.call('HGET', k, 'run_at')
      new = (run_at and tonumber(run_at) > tonumber(NOW)) and 'scheduled' or 'pending'
      redis.call('HSET', k, 'status', new)
    end
    if new then
      index(id, 'waiting', new)
      touch(id)
    end
  end
end
"""

CLAIM_FN = """
-- claim up to limit pending jobs for worker; batch is the claim's token (a retried call
-- returns the jobs it already claimed)
local function claim(worker, limit, batch)
  local out = {}
  local memo = P .. 'claim:' .. batch
  local seen = redis.call('GET', memo)
  if seen then
    for _, id in ipairs(cjson.decode(seen)) do
      local token = redis.call('HGET', jkey(id), 'token')
      if token and string.sub(token, 1, #batch) == batch then
        out[#out + 1] = snap(jkey(id))
      end
    end
    return out
  end
  if redis.call('GET', P .. 'paused') == '1' then return out end
  promote()
  local ids = {}
  for _, id in ipairs(redis.call('ZRANGE', P .. 'pending', 0, limit - 1)) do
    local k = jkey(id)
    if redis.call('HGET', k, 'status') == 'pending' then
      local attempts = redis.call('HINCRBY', k, 'attempts', 1)
      redis.call('HSET', k, 'status', 'running', 'started_at', NOW, 'worker', worker,
        'token', batch .. '.' .. id .. '.' .. attempts, 'cancel_requested', '0')
      index(id, 'pending', 'running')
      touch(id)
      ids[#ids + 1] = id
      out[#out + 1] = snap(k)
    else
      redis.call('ZREM', P .. 'pending', id)
    end
  end
  if #ids > 0 then redis.call('SET', memo, cjson.encode(ids), 'EX', 90) end
  return out
end
"""

FINISH_FN = """
-- outcomes: list of {id, token, status, progress?, message?, result?, error?, traceback?,
-- run_at?}; a stale token (or a job no longer active) is ignored
local function finish(outcomes)
  local out = {}
  for _, o in ipairs(outcomes) do
    local k = jkey(o.id)
    local cur = redis.call('HMGET', k, 'token', 'status')
    if cur[1] and cur[1] == o.token and (cur[2] == 'running' or cur[2] == 'paused') then
      redis.call('HSET', k, 'status', o.status, 'cancel_requested', '0')
      redis.call('HDEL', k, 'token')
      if o.progress then redis.call('HSET', k, 'progress', o.progress) end
      if o.message then redis.call('HSET', k, 'message', o.message) end
      if TERMINAL[o.status] then
        redis.call('HSET', k, 'finished_at', NOW)
        setopt(k, 'result', o.result)
      else
        redis.call('HDEL', k, 'worker')
        setopt(k, 'run_at', o.run_at)
      end
      setopt(k, 'error', o.error)
      setopt(k, 'traceback', o.traceback)
      index(o.id, cur[2], o.status)
      touch(o.id)
      out[#out + 1] = snap(k)
    end
  end
  return out
end
"""

CLAIM = PRELUDE + PROMOTE + CLAIM_FN + """
-- ARGV[3]: worker, ARGV[4]: limit, ARGV[5]: batch token
return done(claim(ARGV[3], tonumber(ARGV[4]), ARGV[5]))
"""

FINISH = PRELUDE + FINISH_FN + """
-- ARGV[3]: JSON list of outcomes
return done(finish(cjson.decode(ARGV[3])))
"""

FINISH_CLAIM = PRELUDE + PROMOTE + FINISH_FN + CLAIM_FN + """
-- ARGV[3]: JSON list of outcomes; ARGV[4]: worker, ARGV[5]: limit, ARGV[6]: batch token.
-- A dispatcher tick in one round trip: record the finished runs, then fill the freed slots.
local finished = finish(cjson.decode(ARGV[3]))
local claimed = {}
if tonumber(ARGV[5]) > 0 then claimed = claim(ARGV[4], tonumber(ARGV[5]), ARGV[6]) end
return done({finished, claimed})
"""

PROGRESS = PRELUDE + """
-- ARGV[3]: JSON list of [id, token, progress, message]; stale tokens are ignored
for _, u in ipairs(cjson.decode(ARGV[3])) do
  if redis.call('HGET', jkey(u[1]), 'token') == u[2] then
    redis.call('HSET', jkey(u[1]), 'progress', u[3], 'message', u[4])
    touch(u[1])
  end
end
return done(V or 0)
"""
