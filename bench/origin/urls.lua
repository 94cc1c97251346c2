-- wrk script for bench/origin/run.sh: every connection cycles through the
-- URLs of one asset (playlists, init segments, media segments), listed one
-- path per line in a file, so both servers are asked for the whole asset.
--
-- Arguments (after `--` on the wrk command line):
--   FILE   the list of paths, e.g. /vod/1/master.m3u8
--
-- done() prints one machine-readable line that run.sh parses:
--   WRK_RESULT requests duration_us bytes connect read write status timeout p50_us p99_us

local requests = {}
local next_index = 1
local threads_made = 0

-- Called in the main Lua state for each thread before it starts: number them.
function setup(thread)
    thread:set("thread_id", threads_made)
    threads_made = threads_made + 1
end

-- Called once per wrk thread, in its own Lua state: the requests are
-- formatted once here, so a request costs wrk a table lookup.
function init(args)
    local f = assert(io.open(args[1], "r"))
    for line in f:lines() do
        if line ~= "" then
            requests[#requests + 1] = wrk.format("GET", line)
        end
    end
    f:close()
    assert(#requests > 0, "no URL in " .. args[1])
    -- Threads start at different URLs so they do not walk in lockstep.
    next_index = ((thread_id or 0) * 37) % #requests + 1
end

function request()
    local r = requests[next_index]
    next_index = next_index % #requests + 1
    return r
end

function done(summary, latency, _)
    local e = summary.errors
    io.write(string.format("WRK_RESULT %d %d %d %d %d %d %d %d %d %d\n",
        summary.requests, summary.duration, summary.bytes,
        e.connect, e.read, e.write, e.status, e.timeout,
        latency:percentile(50), latency:percentile(99)))
end
