"""Lua scripts of the Redis store for running jobs: promote, claim, progress and finish."""

from __future__ import annotations

from tuiqueue.store.redis_lua_prelude import PRELUDE

PROMOTE = """
local function promote()
  local due = redis.call('ZRANGEBYSCORE', P .. 'sched', '-inf', NOW, 'LIMIT', 0, 5000)
  for _, id in ipairs(due) do
    if hidden_range(id) then
      -- a big submit still being written: its turn comes after its commit
    elseif redis.call('HGET', jkey(id), 'status') == 'scheduled' then
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
    local reason, ready = false, not hidden_range(id)
    local deps = ready and cjson.decode(redis.call('HGET', k, 'depends_on') or '[]') or {}
    for _, d in ipairs(deps) do
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
-- the first limit ids of the pending index, skipping big submits not committed yet: a
-- hidden id range is stepped over within its priority band with one more ZRANGEBYSCORE
local function pending_top(limit)
  local top = redis.call('ZRANGE', P .. 'pending', 0, limit - 1)
  local clear = true
  for _, id in ipairs(top) do
    if hidden_range(id) then clear = false; break end
  end
  if clear then return top end
  local out, from = {}, '-inf'
  while #out < limit do
    local got = redis.call('ZRANGEBYSCORE', P .. 'pending', from, '+inf', 'WITHSCORES', 'LIMIT',
      0, limit - #out)
    if #got == 0 then break end
    for i = 1, #got, 2 do
      local id, score = tonumber(got[i]), tonumber(got[i + 1])
      local r = hidden_range(id)
      if r then
        from = '(' .. string.format('%.0f', score - id + r[2])
        break
      end
      out[#out + 1] = got[i]
      from = '(' .. got[i + 1]
    end
  end
  return out
end
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
  -- per job: its own fields (version and updated_at included) in one HSET; the indexes and
  -- the change log are written once for the whole batch (every call from Lua costs)
  local ids, running, changes = {}, {}, {}
  for _, id in ipairs(pending_top(limit)) do
    local k = jkey(id)
    if redis.call('HGET', k, 'status') == 'pending' then
      local attempts = redis.call('HINCRBY', k, 'attempts', 1)
      local v = ver()
      redis.call('HSET', k, 'status', 'running', 'started_at', NOW, 'worker', worker,
        'token', batch .. '.' .. id .. '.' .. attempts, 'cancel_requested', '0',
        'version', v, 'updated_at', NOW)
      ids[#ids + 1] = id
      running[#running + 1] = id
      running[#running + 1] = id
      changes[#changes + 1] = v
      changes[#changes + 1] = id
      out[#out + 1] = snap(k)
    else
      redis.call('ZREM', P .. 'pending', id)
    end
  end
  if #ids > 0 then
    bulk('ZREM', P .. 's:pending', ids)
    bulk('ZREM', P .. 'pending', ids)
    bulk('ZADD', P .. 's:running', running)
    bulk('ZADD', P .. 'changes', changes)
    redis.call('SET', memo, cjson.encode(ids), 'EX', 90)
  end
  return out
end
"""

FINISH_FN = """
-- outcomes: list of {id, token, status, progress?, message?, result?, error?, traceback?,
-- run_at?}; a stale token (or a job no longer active) is ignored
local function finish(outcomes)
  local out = {}
  -- the common case, a run ending (running -> completed/failed/cancelled), writes its own
  -- fields in one HSET and one HDEL and leaves the indexes to one call per index per batch
  local left, ended, final, changes = {}, {}, {}, {}
  for _, o in ipairs(outcomes) do
    local k = jkey(o.id)
    local cur = redis.call('HMGET', k, 'token', 'status')
    if cur[1] and cur[1] == o.token and (cur[2] == 'running' or cur[2] == 'paused') then
      local v = ver()
      local set = {'status', o.status, 'cancel_requested', '0', 'version', v}
      local del = {'token'}
      if NOW ~= '' then set[#set + 1] = 'updated_at'; set[#set + 1] = NOW end
      if o.progress then set[#set + 1] = 'progress'; set[#set + 1] = o.progress end
      if o.message then set[#set + 1] = 'message'; set[#set + 1] = o.message end
      local terminal = TERMINAL[o.status]
      if terminal then
        set[#set + 1] = 'finished_at'; set[#set + 1] = NOW
        opt(set, del, 'result', o.result)
      else
        del[#del + 1] = 'worker'
        opt(set, del, 'run_at', o.run_at)
      end
      opt(set, del, 'error', o.error)
      opt(set, del, 'traceback', o.traceback)
      redis.call('HSET', k, unpack(set))
      redis.call('HDEL', k, unpack(del))
      if terminal and cur[2] == 'running' then
        left[#left + 1] = o.id
        if not ended[o.status] then ended[o.status], final[o.status] = {}, {} end
        local e, f = ended[o.status], final[o.status]
        e[#e + 1] = o.id; e[#e + 1] = o.id
        f[#f + 1] = NOW; f[#f + 1] = o.id
      else
        index(o.id, cur[2], o.status)
      end
      changes[#changes + 1] = v
      changes[#changes + 1] = o.id
      out[#out + 1] = snap(k)
    end
  end
  if #changes > 0 then
    bulk('ZREM', P .. 's:running', left)
    for status, e in pairs(ended) do
      bulk('ZADD', P .. 's:' .. status, e)
      bulk('ZADD', P .. 'f:' .. status, final[status])
    end
    if next(ended) and redis.call('ZCARD', P .. 's:waiting') > 0 then
      redis.call('SET', P .. 'wdirty', '1')
    end
    bulk('ZADD', P .. 'changes', changes)
  end
  return out
end
"""

CLAIM = (
    PRELUDE
    + PROMOTE
    + CLAIM_FN
    + """
-- ARGV[3]: worker, ARGV[4]: limit, ARGV[5]: batch token
return done(claim(ARGV[3], tonumber(ARGV[4]), ARGV[5]))
"""
)

FINISH = (
    PRELUDE
    + FINISH_FN
    + """
-- ARGV[3]: JSON list of outcomes
return done(finish(cjson.decode(ARGV[3])))
"""
)

FINISH_CLAIM = (
    PRELUDE
    + PROMOTE
    + FINISH_FN
    + CLAIM_FN
    + """
-- ARGV[3]: JSON list of outcomes; ARGV[4]: worker, ARGV[5]: limit, ARGV[6]: batch token.
-- A dispatcher tick in one round trip: record the finished runs, then fill the freed slots.
local finished = finish(cjson.decode(ARGV[3]))
local claimed = {}
if tonumber(ARGV[5]) > 0 then claimed = claim(ARGV[4], tonumber(ARGV[5]), ARGV[6]) end
return done({finished, claimed})
"""
)

PROGRESS = (
    PRELUDE
    + """
-- ARGV[3]: JSON list of [id, token, progress, message]; stale tokens are ignored
for _, u in ipairs(cjson.decode(ARGV[3])) do
  if redis.call('HGET', jkey(u[1]), 'token') == u[2] then
    redis.call('HSET', jkey(u[1]), 'progress', u[3], 'message', u[4])
    touch(u[1])
  end
end
return done(V or 0)
"""
)
