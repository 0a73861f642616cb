"""Lua of the Redis store's big submits: bounded scripts write them, one O(1) step shows them.

A batch B reserves a range of ids (P.."id" moves past them, so other submits get later ids)
and writes its jobs a chunk per script, indexes included, but not into the change log. While
B is in the P.."batches" set, every reader steps over its id range (PRELUDE's hidden_range;
counts subtract B's per-status tallies). The commit only takes B out of that set and records
its version in P.."bdone", from which `changes()` returns B's jobs (kept in P.."b:"..B..":all")
whole. P.."b:"..B holds lo, hi, state, the tallies and the server time of the last chunk, so a
submitter that died is found on Redis's clock and its jobs are deleted in bounded steps.
"""

from __future__ import annotations

from tuiqueue.store.redis_lua_prelude import PRELUDE

KEEP_SECONDS = 3_600
"""How long a committed batch's id list stays for watchers that are behind."""

_BATCH = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function bkey(b, part) return P .. 'b:' .. b .. (part or '') end
local function missing_dep(jobs)
  local missing = false
  for _, job in ipairs(jobs) do
    for _, d in ipairs(job.deps) do
      if (redis.call('EXISTS', jkey(d)) == 0 or hidden_range(d)) and (not missing or d < missing)
      then
        missing = d
      end
    end
  end
  return missing
end
"""

BATCH_BEGIN = (
    PRELUDE
    + _BATCH
    + """
-- ARGV[3]: batch id, ARGV[4]: number of jobs, ARGV[5]: JSON list of {deps = [ids]}
local b, n = ARGV[3], tonumber(ARGV[4])
local missing = missing_dep(cjson.decode(ARGV[5]))
if missing then return {'missing', missing} end
local hi = redis.call('INCRBY', P .. 'id', n)
redis.call('HSET', bkey(b), 'lo', hi - n + 1, 'hi', hi, 'state', 'open', 'beat', now_ms())
redis.call('SADD', P .. 'batches', b)
return {'ok', hi - n + 1}
"""
)

BATCH_CHUNK = (
    PRELUDE
    + _BATCH
    + """
-- ARGV[3]: batch id, ARGV[4]: first id of this chunk, ARGV[5]: JSON list as for ADD
local b, first = ARGV[3], tonumber(ARGV[4])
if redis.call('HGET', bkey(b), 'state') ~= 'open' then return {'gone'} end
local jobs = cjson.decode(ARGV[5])
local missing = missing_dep(jobs)
if missing then return {'missing', missing} end
local v = redis.call('GET', P .. 'version') or '0'
local out = {'ok'}
local tally = {}
local ids = {}
for i, job in ipairs(jobs) do
  local id = first + i - 1
  local status = 'pending'
  for _, d in ipairs(job.deps) do
    if redis.call('HGET', jkey(d), 'status') ~= 'completed' then status = 'waiting' end
  end
  if status == 'pending' and job.run_at and tonumber(job.run_at) > tonumber(NOW) then
    status = 'scheduled'
  end
  local args = {'id', id, 'status', status, 'created_at', NOW, 'version', v,
    'updated_at', NOW, 'batch', b}
  for field, value in pairs(job.f) do
    args[#args + 1] = field
    args[#args + 1] = value
  end
  redis.call('HSET', jkey(id), unpack(args))
  redis.call('ZADD', P .. 't:' .. job.type, id, id)
  if job.f.rerun_of then redis.call('ZADD', P .. 'rr:' .. job.f.rerun_of, id, id) end
  index(id, false, status)  -- (its ready set, sched; hidden until the commit)
  tally[status] = (tally[status] or 0) + 1
  ids[#ids + 1] = id
  ids[#ids + 1] = id
  out[#out + 1] = status
end
bulk('ZADD', P .. 'all', ids)
bulk('ZADD', bkey(b, ':all'), ids)
for status, n in pairs(tally) do redis.call('HINCRBY', bkey(b), 'n:' .. status, n) end
redis.call('HSET', bkey(b), 'beat', now_ms())
return out
"""
)

BATCH_COMMIT = (
    PRELUDE
    + _BATCH
    + """
-- ARGV[3]: batch id. O(1) whatever the batch's size; a retried commit answers like the first.
local b = ARGV[3]
local state = redis.call('HGET', bkey(b), 'state')
if state == 'committed' then return {'ok', redis.call('HGET', bkey(b), 'version')} end
if state ~= 'open' then return {'gone'} end
local v = ver()
if redis.call('HEXISTS', bkey(b), 'n:waiting') == 1 then redis.call('SET', P .. 'wdirty', '1') end
redis.call('SREM', P .. 'batches', b)
redis.call('HSET', bkey(b), 'state', 'committed', 'version', v)
redis.call('ZADD', P .. 'bdone', v, b)
redis.call('EXPIRE', bkey(b), KEEP)
redis.call('EXPIRE', bkey(b, ':all'), KEEP)
for _, old in ipairs(redis.call('ZRANGEBYSCORE', P .. 'bdone', '-inf', '+inf', 'LIMIT', 0, 10)) do
  if redis.call('EXISTS', bkey(old)) == 0 then redis.call('ZREM', P .. 'bdone', old) end
end
return done({'ok', v})
"""
).replace("KEEP)", f"{KEEP_SECONDS})")

BATCH_DROP = (
    PRELUDE
    + _BATCH
    + """
-- ARGV[3]: batch id, ARGV[4]: most jobs deleted by this call. Returns how many are left
-- (call again until 0); never touches a committed batch.
local b, limit = ARGV[3], tonumber(ARGV[4])
local state = redis.call('HGET', bkey(b), 'state')
if state == 'committed' then return 0 end
if state then redis.call('HSET', bkey(b), 'state', 'dropped') end
local ids = redis.call('ZPOPMIN', bkey(b, ':all'), limit)
for i = 1, #ids, 2 do
  local id = ids[i]
  local cur = redis.call('HMGET', jkey(id), 'status', 'type')
  if cur[1] then
    local _, qt = pair(jkey(id))
    for _, key in ipairs({'s:' .. cur[1], 't:' .. cur[2], 'all', 'r:' .. qt, 'sched'}) do
      redis.call('ZREM', P .. key, id)
    end
    redis.call('HINCRBY', bkey(b), 'n:' .. cur[1], -1)
    redis.call('DEL', jkey(id))
  end
end
if redis.call('EXISTS', bkey(b, ':all')) == 1 then return redis.call('ZCARD', bkey(b, ':all')) end
redis.call('DEL', bkey(b))
redis.call('SREM', P .. 'batches', b)
return 0
"""
)

BATCH_STALE = (
    PRELUDE
    + _BATCH
    + """
-- ARGV[3]: milliseconds without a chunk (on the server's clock) after which a batch that
-- was not committed is abandoned: the ids of those batches
local cutoff = now_ms() - tonumber(ARGV[3])
local out = {}
for _, b in ipairs(redis.call('SMEMBERS', P .. 'batches')) do
  local info = redis.call('HMGET', bkey(b), 'state', 'beat')
  if info[1] ~= 'open' or tonumber(info[2] or '0') < cutoff then out[#out + 1] = b end
end
return out
"""
)

COUNTS = """
-- ARGV: P, then the statuses: jobs per status, less those of batches not committed yet
local P = ARGV[1]
local hidden = {}
for _, b in ipairs(redis.call('SMEMBERS', P .. 'batches')) do
  local tally = redis.call('HGETALL', P .. 'b:' .. b)
  for i = 1, #tally, 2 do
    if string.sub(tally[i], 1, 2) == 'n:' then
      local s = string.sub(tally[i], 3)
      hidden[s] = (hidden[s] or 0) + tonumber(tally[i + 1])
    end
  end
end
local out = {}
for i = 2, #ARGV do
  out[#out + 1] = redis.call('ZCARD', P .. 's:' .. ARGV[i]) - (hidden[ARGV[i]] or 0)
end
return out
"""

RANGES = """
-- ARGV: P: the id ranges of batches not committed yet, as lo, hi, lo, hi...
local P = ARGV[1]
local out = {}
for _, b in ipairs(redis.call('SMEMBERS', P .. 'batches')) do
  local r = redis.call('HMGET', P .. 'b:' .. b, 'lo', 'hi')
  if r[1] then out[#out + 1] = r[1]; out[#out + 1] = r[2] end
end
return out
"""

# CHANGES's step for batches committed after `since`: the first one shows up whole, at its
# commit version (its jobs are not in the change log until they change again).
CHANGES_BATCH = """
local bd = redis.call('ZRANGEBYSCORE', P .. 'bdone', '(' .. since, version, 'WITHSCORES',
  'LIMIT', 0, 1)
if #bd > 0 then
  version = tonumber(bd[2])
  local members = redis.call('ZRANGE', P .. 'b:' .. bd[1] .. ':all', 0, -1)
  local mine = {}
  for _, id in ipairs(members) do mine[id] = true end
  local kept = {}
  for _, pair in ipairs(ids) do
    if pair[2] <= version and not mine[pair[1]] then kept[#kept + 1] = pair end
  end
  for _, id in ipairs(members) do kept[#kept + 1] = {id, version} end
  ids = kept
end
"""
