#!/usr/bin/env bash
# The http adapter end to end: launcher -> paperclip_runner -> libcurl -> a
# small HTTP server on 127.0.0.1 (test/http/server.pl). The server's own
# machine and networks refused unless a superuser allowed them, every
# outcome of adapters.md, the response cap, asynchronous completion, the host
# allowlist (also after redirects), and 200 runs with none lost.
. "$(dirname "$0")/lib.bash"
launcher_db
here=$(cd "$(dirname "$0")/.." && pwd)
perl "$here/http/server.pl" "$WORK/port" "$WORK/requests.log" &
server=$!
restore() {
	kill "$server" 2>/dev/null
	q "ALTER SYSTEM RESET paperclip.allowed_http_hosts" >/dev/null
	q "ALTER SYSTEM RESET paperclip.http_allow_private_networks" >/dev/null
	q "ALTER SYSTEM RESET paperclip.max_concurrent_runs" >/dev/null
	q "SELECT pg_reload_conf()" >/dev/null
	rm -rf "$WORK"
}
trap restore EXIT
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
port=$(cat "$WORK/port")
base="http://127.0.0.1:$port"

# the agent table's CHECK validates the config for the adapter type: set both at once
url_agent() {	# url_agent <name> <url> [more config]
	q "INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config)
	   VALUES ('$COMPANY', '$1', 'http', '{\"url\":\"$2\"${3:+,$3}}') RETURNING id"
}
http_agent() { url_agent "$1" "$base$2" "${3:-}"; }
run_of() {	# run_of <agent>: enqueue and wait until finished; prints the run id
	local r
	r=$(enqueue "$1")
	wait_finished "$r" 30 >/dev/null
	echo "$r"
}
field() { q "SELECT $2 FROM paperclip.heartbeat_runs WHERE id = '$1'"; }
retries() { q "SELECT count(*) FROM paperclip.heartbeat_runs WHERE retry_of_run_id = '$1'"; }
set_conf() {	# set_conf <setting> <value|DEFAULT> <value shown>: set, reload, wait until seen
	q "ALTER SYSTEM SET $1 = $2" >/dev/null
	q "SELECT pg_reload_conf()" >/dev/null
	ok $(wait_for 10 "SELECT current_setting('$1') = '$3'"; echo $?) "$1 = '$3'"
}
allow_hint="set paperclip.http_allow_private_networks or name the host in paperclip.allowed_http_hosts"

is "$(q "SELECT setting || ' ' || context FROM pg_settings WHERE name = 'paperclip.http_allow_private_networks'")" "off sighup" \
	"paperclip.http_allow_private_networks: off by default, set in the server's configuration"

# --- by default the server's own machine and networks are refused, whatever
# the name: the address connected to is checked (after DNS), and nothing is sent
a=$(http_agent loopback "/ok?loopback")
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code") $(retries "$r")" "failed http_address_refused 0" \
	"127.0.0.1: failed http_address_refused, no retry"
is "$(field "$r" error)" "refused to connect to 127.0.0.1 (loopback) for $base/ok: $allow_hint" \
	"the error names the address, its class and the settings that allow it"
ok $(! grep -qs 'loopback' "$WORK/requests.log"; echo $?) "nothing reached the server"
a=$(url_agent byname "http://localhost:$port/ok?byname")
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code || ' ' || (error LIKE 'refused to connect to % (loopback) for http://localhost:$port/ok: %')")" \
	"failed http_address_refused true" "a name resolving to loopback (localhost) is refused"
ok $(! grep -qs 'byname' "$WORK/requests.log"; echo $?) "nothing reached the server"
a=$(url_agent mapped "http://[::ffff:127.0.0.1]:$port/ok?mapped")
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code || ' ' || (error LIKE 'refused to connect to ::ffff:127.0.0.1 (loopback)%')")" \
	"failed http_address_refused true" "IPv4-mapped IPv6 loopback is refused"
a=$(url_agent unspecified "http://0.0.0.0:$port/ok?unspecified")
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code || ' ' || (error LIKE 'refused to connect to 0.0.0.0 (unspecified)%')")" \
	"failed http_address_refused true" "0.0.0.0 (which Linux connects to this host) is refused"
ok $(! grep -qs 'mapped\|unspecified' "$WORK/requests.log"; echo $?) "nothing reached the server"
# no connection is even tried (nothing listens there: trying would fail http_connect or time out)
a=$(url_agent v6loopback "http://[::1]:$port/ok" '"timeoutSec":5')
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code || ' ' || (error LIKE 'refused to connect to ::1 (loopback)%')")" \
	"failed http_address_refused true" "http://[::1]/ is refused"
a=$(url_agent metadata "http://169.254.169.254/latest/meta-data/" '"timeoutSec":5')
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code || ' ' || error")" \
	"failed http_address_refused refused to connect to 169.254.169.254 (link-local) for http://169.254.169.254/latest/meta-data/: $allow_hint" \
	"the cloud metadata address is refused"
for target in "10.1.2.3 private" "192.168.0.1 private" "172.31.0.1 private" "100.64.0.1 private (shared address space)" \
	"[fd00::1] private" "[fe80::1] link-local" "224.0.0.1 multicast" "255.255.255.255 broadcast"; do
	a=$(url_agent "net ${target%% *}" "http://${target%% *}/" '"timeoutSec":5')
	r=$(run_of "$a")
	is "$(field "$r" "status || ' ' || error_code || ' ' || (error LIKE '% (${target#* }) for %')")" \
		"failed http_address_refused true" "${target%% *} is refused (${target#* })"
done

# --- a superuser allows them: paperclip.http_allow_private_networks
set_conf paperclip.http_allow_private_networks on on
a=$(http_agent loopback_allowed "/ok?allowed")
r=$(run_of "$a")
is "$(field "$r" status)" succeeded "with paperclip.http_allow_private_networks on, 127.0.0.1 works again"
ok $(grep -q 'allowed' "$WORK/requests.log"; echo $?) "the request reached the server"

# --- 2xx: succeeded, the JSON body read as an adapter result
a=$(http_agent ok /ok)
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || (usage_json->>'inputTokens') || ' ' || (usage_json->>'costUsd') || ' ' || session_id_after")" \
	"succeeded 10 0.01 http-session" "200: succeeded; usage, cost and session come from the body"
is "$(field "$r" "result_json->>'summary'")" "done over http" "resultJson is kept"
log=$(q "SELECT content FROM paperclip.read_log('$r')")
ok $(grep -q 'done over http' <<< "$log"; echo $?) "the response body is in the run log"

# --- the request: POST, JSON body with the run, configured headers
a=$(http_agent echo /echo '"headers":{"X-Token":"s3cret-value"}')
r=$(run_of "$a")
is "$(field "$r" "result_json->>'method'")" POST "the request is a POST"
is "$(field "$r" "(result_json->'body'->>'runId') = id::text AND (result_json->'body'->>'agentId') = agent_id::text")" t \
	"its JSON body names the run and the agent"
is "$(field "$r" "result_json->'headers'->>'x-token'")" "s3cret-value" "configured headers are sent"
is "$(field "$r" "result_json->'headers'->>'content-type'")" "application/json" "with Content-Type: application/json"
is "$(q "SELECT count(*) FROM paperclip.heartbeat_run_events WHERE run_id = '$r' AND (payload::text LIKE '%s3cret%' OR message LIKE '%s3cret%')")" 0 \
	"header values never reach the run's events"
a=$(http_agent echo_same "/redirect/307?to=$base/echo" '"headers":{"X-Token":"s3cret-value"}')
r=$(run_of "$a")
is "$(field "$r" "result_json->'headers'->>'x-token'")" "s3cret-value" "a redirect within the origin keeps the configured headers"
a=$(http_agent echo_away "/redirect/307?to=http://localhost:$port/echo" '"headers":{"X-Token":"s3cret-value"}')
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || coalesce(result_json->'headers'->>'x-token', 'no token')")" "succeeded no token" \
	"a redirect to another origin gets no configured header"
a=$(http_agent secret_query "/status/404?token=s3cret-query")
r=$(run_of "$a")
is "$(field "$r" error)" "HTTP 404 from $base/status/404" "the error shows the URL without its query"
is "$(q "SELECT count(*) FROM paperclip.heartbeat_run_events WHERE run_id = '$r' AND (payload::text LIKE '%s3cret%' OR message LIKE '%s3cret%')")" 0 \
	"nor does any event"
a=$(http_agent text /text)
r=$(run_of "$a")
is "$(field "$r" status)" succeeded "a body that is not JSON still succeeds"

# --- failures: 429, 5xx and connection errors are transient (retried), 4xx is not
a=$(http_agent busy /status/429)
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code") $(retries "$r")" "failed http_429 1" "429: failed http_429, a retry scheduled"
a=$(http_agent broken /status/503)
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code") $(retries "$r")" "failed http_5xx 1" "503: failed http_5xx, a retry scheduled"
a=$(http_agent missing /status/404)
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code") $(retries "$r")" "failed http_4xx 0" "404: failed http_4xx, no retry"
is "$(field "$r" error)" "HTTP 404 from $base/status/404" "the error names the status and the URL"
a=$(http_agent beyond /status/600)
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code") $(retries "$r")" "failed http_error 0" "600: not http_5xx, no retry"
a=$(http_agent many_headers /manyheaders)
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code") $(retries "$r")" "failed http_response_too_large 0" \
	"100 KB of response headers: http_response_too_large, not http_connect"
a=$(http_agent huge_header /hugeheader)
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code") $(retries "$r")" "failed http_error 0" \
	"a 200 KB response header line: http_error, not http_connect"
closed=$(perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1); print $s->sockport')
a=$(q "INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config)
        VALUES ('$COMPANY', 'refused', 'http', '{\"url\":\"http://127.0.0.1:$closed/ok\"}') RETURNING id")
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code") $(retries "$r")" "failed http_connect 1" "connection refused: failed http_connect, a retry scheduled"

# --- a slow endpoint hits the timeout; a huge body hits the cap
a=$(http_agent slow /slow/5000 '"timeoutSec":1')
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code") $(retries "$r")" "timed_out timeout 0" "a slow answer: timed_out, no retry"
a=$(http_agent slow_cancelled /slow/20000)
r=$(enqueue "$a")
ok $(wait_for 10 "SELECT count(*) > 0 FROM paperclip.heartbeat_run_events WHERE run_id = '$r' AND event_type = 'adapter.invoke'"; echo $?) "a slow request is under way"
rpid=$(field "$r" runner_pid)
q "SELECT paperclip.cancel_run('$r')" >/dev/null
gone() { for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done; return 1; }
ok $(gone "$rpid"; echo $?) "cancel_run aborts the request: the runner is gone at once"
is "$(field "$r" "status || ' ' || error_code")" "cancelled cancelled" "the run stays cancelled"
a=$(http_agent huge /huge)
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code")" "failed http_response_too_large" "a 5 MB body hits the 1 MB cap"
a=$(http_agent huge_allowed /huge '"maxResponseBytes":8388608')
r=$(run_of "$a")
is "$(field "$r" status)" succeeded "maxResponseBytes raises the cap"

# --- 202 {"async":true}: running until the agent finalizes the run itself
a=$(http_agent async /async)
r=$(enqueue "$a")
ok $(wait_for 10 "SELECT runner_pid IS NOT NULL AND status = 'running' FROM paperclip.heartbeat_runs WHERE id = '$r'"; echo $?) "202 async: the run is running"
ok $(wait_for 10 "SELECT count(*) > 0 FROM paperclip.heartbeat_run_events WHERE run_id = '$r' AND event_type = 'adapter.invoke'"; echo $?) "the request was made"
rpid=$(field "$r" runner_pid)
is "$(field "$r" status)" running "it stays running after the answer"
is "$(q "SELECT status FROM paperclip.finalize_run('$r', '{\"usage\":{\"inputTokens\":7},\"resultJson\":{\"summary\":\"called back\"}}')")" succeeded \
	"the agent's finalize_run completes it"
ok $(gone "$rpid"; echo $?) "its runner is stopped (the launcher stops it once the run is no longer running)"
is "$(field "$r" "status || ' ' || (usage_json->>'inputTokens') || ' ' || (result_json->>'summary')")" \
	"succeeded 7 called back" "the callback's result stands"
a=$(http_agent async_late /async '"timeoutSec":1')
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code")" "timed_out timeout" "an async run never finalized times out"

# --- paperclip.allowed_http_hosts: other hosts refused before connecting, also after redirects;
# a host named exactly there may be on the server's networks, one admitted by *.domain may not
set_conf paperclip.http_allow_private_networks DEFAULT off
set_conf paperclip.allowed_http_hosts "'127.0.0.1,*.localhost'" "127.0.0.1,*.localhost"
a=$(http_agent named "/ok?named")
r=$(run_of "$a")
is "$(field "$r" status)" succeeded "127.0.0.1 named exactly in the allowlist: reached without http_allow_private_networks"
a=$(url_agent pattern "http://ssrf.localhost:$port/ok?pattern")
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code || ' ' || (error LIKE 'refused to connect to % (loopback) for http://ssrf.localhost:$port/ok: %')")" \
	"failed http_address_refused true" "a host admitted only by *.localhost is not allowed the server's addresses"
a=$(http_agent hop_private "/redirect/302?to=http://ssrf.localhost:$port/ok?rebound")
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code || ' ' || (error LIKE '% (loopback) for http://ssrf.localhost:$port/ok: %')")" \
	"failed http_address_refused true" "a redirect from an allowed host to a refused address is refused"
ok $(! grep -q '^[A-Z]* /ok?\(pattern\|rebound\)' "$WORK/requests.log"; echo $?) "neither reached the server"
a=$(q "INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config)
        VALUES ('$COMPANY', 'elsewhere', 'http', '{\"url\":\"http://localhost:$port/ok?elsewhere\"}') RETURNING id")
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code || ': ' || error")" \
	"failed http_host_not_allowed: host localhost is not in paperclip.allowed_http_hosts" "another host is refused"
ok $(! grep -q 'elsewhere' "$WORK/requests.log"; echo $?) "no request reached it"
a=$(http_agent hop "/redirect/302?to=http://localhost:$port/ok?hopped")
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code")" "failed http_host_not_allowed" "a redirect to another host is refused"
ok $(! grep -q '^[A-Z]* /ok?hopped' "$WORK/requests.log"; echo $?) "the redirect target was never requested"
a=$(http_agent hop_ok "/redirect/307?to=$base/echo")
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || (result_json->>'method')")" "succeeded POST" "a redirect to an allowed host is followed (307 keeps the POST)"
a=$(http_agent hop_ftp "/redirect/302?to=ftp://127.0.0.1/file")
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code")" "failed http_redirect_refused" "a redirect to another scheme is refused"
a=$(http_agent hop_file "/redirect/302?to=file:///etc/passwd")
r=$(run_of "$a")
is "$(field "$r" "status || ' ' || error_code || ': ' || error")" \
	"failed http_redirect_refused: a redirect to a file: URL is refused" "a redirect to a file: URL is refused"
q "ALTER SYSTEM RESET paperclip.allowed_http_hosts" >/dev/null
set_conf paperclip.http_allow_private_networks on on

# --- 200 concurrent runs: every one finishes, none is lost
q "ALTER SYSTEM SET paperclip.max_concurrent_runs = 50" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
q "INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config)
   SELECT '$COMPANY', 'many ' || g, 'http', '{\"url\":\"$base/ok\"}' FROM generate_series(1, 200) g" >/dev/null
q "SELECT count(paperclip.enqueue_wakeup(id)) FROM paperclip.agents WHERE company_id = '$COMPANY' AND name LIKE 'many %'" >/dev/null
ok $(wait_for 120 "SELECT count(*) = 200 FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id
                   WHERE a.name LIKE 'many %' AND a.company_id = '$COMPANY' AND r.status = 'succeeded'"; echo $?) \
	"200 concurrent http runs all succeed"
is "$(q "SELECT count(*) FILTER (WHERE w.status = 'completed') || ' ' || count(*) FROM paperclip.agent_wakeup_requests w
          JOIN paperclip.agents a ON a.id = w.agent_id WHERE a.name LIKE 'many %' AND a.company_id = '$COMPANY'")" "200 200" \
	"every wakeup is completed, none lost"
is "$(q "SELECT sum(total_input_tokens) FROM paperclip.agent_runtime_state s JOIN paperclip.agents a ON a.id = s.agent_id
          WHERE a.name LIKE 'many %' AND a.company_id = '$COMPANY'")" 2000 "runtime totals count every run once"
done_testing
