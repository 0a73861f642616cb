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
-- the first limit jobs of a ready set as {id, score, ...}, skipping big submits not
-- committed yet: a hidden id range is stepped over within its priority band with one more
-- ZRANGEBYSCORE
local function ready_top(key, limit)
  local top = redis.call('ZRANGE', key, 0, limit - 1, 'WITHSCORES')
  local clear = true
  for i = 1, #top, 2 do
    if hidden_range(top[i]) then clear = false; break end
  end
  if clear then return top end
  local out, from = {}, '-inf'
  while #out < 2 * limit do
    local got = redis.call('ZRANGEBYSCORE', key, from, '+inf', 'WITHSCORES', 'LIMIT', 0,
      limit - #out / 2)
    if #got == 0 then break end
    for i = 1, #got, 2 do
      local id, score = tonumber(got[i]), tonumber(got[i + 1])
      local r = hidden_range(id)
      if r then
        from = '(' .. string.format('%.0f', score - id + r[2])
        break
      end
      out[#out + 1] = got[i]
      out[#out + 1] = got[i + 1]
      from = '(' .. got[i + 1]
    end
  end
  return out
end
-- a lookup table of the names in a JSON list, or false for '' (no restriction)
local function names(arg)
  if arg == '' then return false end
  local set = {}
  for _, name in ipairs(cjson.decode(arg)) do set[name] = true end
  return set
end
-- claim up to limit pending jobs for worker, only of the given types and queues (lookup
-- tables, false: any), never from a paused queue nor past a capped queue's room; batch is
-- the claim's token (a retried call returns the jobs it already claimed)
local function claim(worker, limit, batch, types, queues)
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
  -- the first jobs of every ready set this worker may take, then the best of them in order
  -- (an empty ready set stays listed: a few (queue, type) pairs, and queues() reads them)
  local room, cands = {}, {}
  for _, qt in ipairs(redis.call('SMEMBERS', P .. 'ready')) do
    local sep = string.find(qt, ':', 1, true)
    local q, t = string.sub(qt, 1, sep - 1), string.sub(qt, sep + 1)
    if (not queues or queues[q]) and (not types or types[t]) then
      local r = room[q]
      if r == nil then
        local st = redis.call('HMGET', P .. 'q:' .. q, 'paused', 'limit')
        if st[1] == '1' then r = 0
        elseif st[2] then
          r = math.min(limit, tonumber(st[2]) - redis.call('ZCARD', P .. 'qr:' .. q))
        else r = limit end
        room[q] = r
      end
      if r > 0 then
        local key = P .. 'r:' .. qt
        local got = ready_top(key, r)
        for i = 1, #got, 2 do cands[#cands + 1] = {tonumber(got[i + 1]), got[i], key, q} end
      end
    end
  end
  if #cands > 1 then table.sort(cands, function(a, b) return a[1] < b[1] end) end
  -- per job: its own fields (version and updated_at included) in one HSET; the indexes and
  -- the change log are written once for the whole batch (every call from Lua costs)
  local ids, running, changes, taken, qrun = {}, {}, {}, {}, {}
  for _, c in ipairs(cands) do
    if #ids >= limit then break end
    local id, key, q = c[2], c[3], c[4]
    if room[q] > 0 then
      if not taken[key] then taken[key] = {} end
      taken[key][#taken[key] + 1] = id
      local k = jkey(id)
      if redis.call('HGET', k, 'status') == 'pending' then
        local attempts = redis.call('HINCRBY', k, 'attempts', 1)
        local v = ver()
        redis.call('HSET', k, 'status', 'running', 'started_at', NOW, 'worker', worker,
          'token', batch .. '.' .. id .. '.' .. attempts, 'cancel_requested', '0',
          'version', v, 'updated_at', NOW)
        room[q] = room[q] - 1
        if not qrun[q] then qrun[q] = {} end
        qrun[q][#qrun[q] + 1] = id
        qrun[q][#qrun[q] + 1] = id
        ids[#ids + 1] = id
        running[#running + 1] = id
        running[#running + 1] = id
        changes[#changes + 1] = v
        changes[#changes + 1] = id
        out[#out + 1] = snap(k)
      end
    end
  end
  for key, gone in pairs(taken) do bulk('ZREM', key, gone) end
  if #ids > 0 then
    bulk('ZREM', P .. 's:pending', ids)
    bulk('ZADD', P .. 's:running', running)
    for q, r in pairs(qrun) do bulk('ZADD', P .. 'qr:' .. q, r) end
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
  local left, ended, final, changes, qleft = {}, {}, {}, {}, {}
  for _, o in ipairs(outcomes) do
    local k = jkey(o.id)
    local cur = redis.call('HMGET', k, 'token', 'status', 'queue')
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
        local q = cur[3] or 'default'
        if not qleft[q] then qleft[q] = {} end
        qleft[q][#qleft[q] + 1] = o.id
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
    for q, gone in pairs(qleft) do bulk('ZREM', P .. 'qr:' .. q, gone) end
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
-- ARGV[3]: worker, ARGV[4]: limit, ARGV[5]: batch token, ARGV[6]/[7]: JSON lists of the
-- types/queues to consider ('': any)
return done(claim(ARGV[3], tonumber(ARGV[4]), ARGV[5], names(ARGV[6]), names(ARGV[7])))
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
-- ARGV[3]: JSON list of outcomes; ARGV[4]: worker, ARGV[5]: limit, ARGV[6]: batch token,
-- ARGV[7]/[8]: JSON lists of the types/queues to consider ('': any).
-- A dispatcher tick in one round trip: record the finished runs, then fill the freed slots.
local finished = finish(cjson.decode(ARGV[3]))
local claimed = {}
if tonumber(ARGV[5]) > 0 then
  claimed = claim(ARGV[4], tonumber(ARGV[5]), ARGV[6], names(ARGV[7]), names(ARGV[8]))
end
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
