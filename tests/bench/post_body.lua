-- wrk script: POST the JSON file named after `--` to the URL, and report p50/p99 in a form
-- scripts/bench.sh can read.
function init(args)
  local f = assert(io.open(args[1], "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f\n",
    summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status +
      summary.errors.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
