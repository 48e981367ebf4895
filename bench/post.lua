-- wrk script for make bench: POST the JSON body in $BODY.
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.body = f:read("*a"):gsub("%s+$", "")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
