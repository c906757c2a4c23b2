#!/usr/bin/env bash
# End-to-end test of `faultline proxy` through its HTTP API with curl: a proxy in front of a
# loopback HTTP server, toxics added and removed, /reset. Every process it starts is stopped on
# success and on failure.
#   proxy_cli_test.sh FAULTLINE_BINARY HTTP_SERVER_BINARY
set -uo pipefail
bin=${1:?usage: proxy_cli_test.sh FAULTLINE_BINARY HTTP_SERVER_BINARY}
server_bin=${2:?usage: proxy_cli_test.sh FAULTLINE_BINARY HTTP_SERVER_BINARY}
command -v curl >/dev/null || { echo "curl is missing (tools/setup.sh installs it)"; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
passed=0
failed=0
check() {  # check NAME WANT GOT
  if [[ $3 == "$2" ]]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL $1: got '$3', expected '$2'"; fi
}
check_contains() {  # check_contains NAME TEXT NEEDLE
  if [[ $2 == *"$3"* ]]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL $1: '$2' lacks '$3'"; fi
}
# wait_for FILE PATTERN: up to 10 s for a line matching PATTERN in FILE.
wait_for() {
  for _ in $(seq 100); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "FAIL: no '$2' in $1:"; cat "$1"; return 1
}

"$server_bin" >"$work/server.out" 2>&1 &
pids+=($!)
wait_for "$work/server.out" '^port ' || exit 1
upstream_port=$(sed -n 's/^port //p' "$work/server.out")

"$bin" proxy --control 127.0.0.1:0 --seed 1 2>"$work/proxy.err" &
proxy_pid=$!
pids+=($proxy_pid)
wait_for "$work/proxy.err" 'control API on http://' || exit 1
api=$(sed -n 's/.*control API on \(http:\/\/[0-9.:]*\).*/\1/p' "$work/proxy.err")

# curl_api METHOD PATH [BODY]: prints the body, then the status on the last line.
curl_api() {
  curl -s -m 10 -X "$1" -w '\n%{http_code}' ${3:+-d "$3"} "$api$2"
}
status_of() { tail -n1 <<<"$1"; }

out=$(curl_api GET /version)
check version 200 "$(status_of "$out")"
out=$(curl_api POST /proxies \
  "{\"name\":\"web\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"127.0.0.1:$upstream_port\"}")
check create 201 "$(status_of "$out")"
check_contains create-shape "$out" '"enabled":true'
listen=$(grep -o '"listen":"[^"]*"' <<<"$out" | sed 's/"listen":"\(.*\)"/\1/')
out=$(curl_api POST /proxies "{\"name\":\"web\",\"upstream\":\"127.0.0.1:$upstream_port\"}")
check create-again 409 "$(status_of "$out")"
out=$(curl_api GET /proxies/nope)
check unknown-proxy 404 "$(status_of "$out")"
check_contains unknown-proxy-json "$out" '"error":'
out=$(curl_api POST /proxies/web/toxics '{"type":"lag"}')
check bad-type 400 "$(status_of "$out")"
check_contains bad-type-field "$out" 'type'

# request [PATH]: status, time through the proxy.
request() { curl -s -m 10 -o "$work/body" -w '%{http_code} %{time_total}' "http://$listen${1:-/hello}"; }
read -r code _ <<<"$(request)"
check direct-through-proxy 200 "$code"
check body "ok:/hello" "$(cat "$work/body")"

out=$(curl_api POST /proxies/web/toxics \
  '{"name":"fail","type":"http_status","toxicity":1,"attributes":{"status":503,"body":"nope"}}')
check add-http-status 200 "$(status_of "$out")"
read -r code _ <<<"$(request)"
check http-status-503 503 "$code"
check http-status-body "nope" "$(cat "$work/body")"
out=$(curl_api DELETE /proxies/web/toxics/fail)
check delete-toxic 204 "$(status_of "$out")"
read -r code _ <<<"$(request)"
check after-delete 200 "$code"

out=$(curl_api POST /proxies/web/toxics '{"type":"latency","attributes":{"latency":300}}')
check add-latency 200 "$(status_of "$out")"
check_contains latency-name "$out" '"name":"latency_downstream"'
read -r code took <<<"$(request)"
check latency-status 200 "$code"
check latency-delay 1 "$(awk -v t="$took" 'BEGIN { print (t >= 0.3 && t < 2.0) ? 1 : 0 }')"
curl_api DELETE /proxies/web/toxics/latency_downstream >/dev/null
read -r code took <<<"$(request)"
check no-latency 1 "$(awk -v t="$took" 'BEGIN { print (t < 0.2) ? 1 : 0 }')"

curl_api POST /proxies/web/toxics '{"type":"http_drop"}' >/dev/null
curl_api POST /proxies/web '{"enabled":false}' >/dev/null
out=$(curl_api POST /reset)
check reset 204 "$(status_of "$out")"
out=$(curl_api GET /proxies)
check_contains reset-clean "$out" '"enabled":true,"toxics":[]'
read -r code _ <<<"$(request)"
check after-reset 200 "$code"

kill -TERM "$proxy_pid"
for _ in $(seq 50); do kill -0 "$proxy_pid" 2>/dev/null || break; sleep 0.1; done
wait "$proxy_pid"
check sigterm-exit 0 $?
check_contains sigterm-note "$(cat "$work/proxy.err")" 'closing every proxy'

# A config file in Toxiproxy's format creates its proxies at start; a bad one is exit 3.
printf '[{"name":"cfg","listen":"127.0.0.1:0","upstream":"127.0.0.1:%s"}]' "$upstream_port" \
  >"$work/proxies.json"
"$bin" proxy --control 127.0.0.1:0 --config "$work/proxies.json" 2>"$work/config.err" &
config_pid=$!
pids+=($config_pid)
wait_for "$work/config.err" 'cfg listens on' && passed=$((passed + 1)) || failed=$((failed + 1))
kill -INT "$config_pid"
wait "$config_pid"
check sigint-exit 0 $?
printf '[{"name":"bad"}]' >"$work/bad.json"
"$bin" proxy --control 127.0.0.1:0 --config "$work/bad.json" 2>"$work/bad.err"
check bad-config-exit 3 $?
check_contains bad-config-field "$(cat "$work/bad.err")" 'proxies[0].upstream: missing'

# With --ledger every toxic is recorded first; `nemesis status|heal --ledger` see and remove it
# (here through the live daemon's API), and once the daemon is gone its toxics went with it.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ledger="$work/proxy.ledger"
"$bin" proxy --control "127.0.0.1:$port" --ledger "$ledger" 2>"$work/ledger.err" &
ledger_pid=$!
pids+=($ledger_pid)
wait_for "$work/ledger.err" 'control API on http://' || exit 1
api="http://127.0.0.1:$port"
curl_api POST /proxies "{\"name\":\"led\",\"upstream\":\"127.0.0.1:$upstream_port\"}" >/dev/null
out=$(curl_api POST /proxies/led/toxics '{"name":"slow","type":"latency","attributes":{"latency":5}}')
check ledger-add 200 "$(status_of "$out")"
check_contains ledger-recorded "$(cat "$ledger")" '"type":"toxic"'
out=$("$bin" nemesis status --ledger "$ledger" 2>&1)
check_contains ledger-status "$out" 'toxic slow on proxy led'
out=$("$bin" nemesis heal --ledger "$ledger" 2>&1)
check ledger-heal-exit 0 $?
check_contains ledger-heal "$out" "toxic slow on proxy led: removed"
out=$(curl_api GET /proxies/led/toxics)
check ledger-healed-toxics '[]' "$(head -n1 <<<"$out")"
curl_api POST /proxies/led/toxics '{"name":"left","type":"http_drop"}' >/dev/null
kill -KILL "$ledger_pid"
wait "$ledger_pid" 2>/dev/null
out=$("$bin" nemesis heal --ledger "$ledger" 2>&1)
check ledger-heal-after-crash-exit 0 $?
check_contains ledger-heal-after-crash "$out" 'died with it'
out=$("$bin" nemesis status --ledger "$ledger" 2>&1)
if [[ $out == *"toxic left"* ]]; then failed=$((failed + 1)); echo "FAIL ledger-empty: $out"; else
  passed=$((passed + 1)); fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
