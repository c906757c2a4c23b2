#!/usr/bin/env bash
# End-to-end tests of the faultline binary: exit codes and messages a CI job relies on.
#   cli_test.sh FAULTLINE_BINARY SOURCE_DIR
set -uo pipefail
bin=${1:?usage: cli_test.sh FAULTLINE_BINARY SOURCE_DIR}
src=${2:?usage: cli_test.sh FAULTLINE_BINARY SOURCE_DIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

# expect CODE NAME -- COMMAND...: runs COMMAND, compares its exit code with CODE.
expect() {
  local want=$1 name=$2
  shift 3
  local out
  out=$("$@" 2>&1)
  local got=$?
  if [[ $got -eq $want ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $name: exit $got, expected $want: $*"
    echo "$out" | head -20 | sed 's/^/    /'
  fi
  LAST_OUTPUT=$out
}

# contains NAME TEXT: the previous command's output must contain TEXT.
contains() {
  if [[ $LAST_OUTPUT == *"$2"* ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $1: output lacks '$2':"
    echo "$LAST_OUTPUT" | head -20 | sed 's/^/    /'
  fi
}

ex=$src/examples/etcd-cas.edn

for cmd in "" "history" "history convert" "history stats" "history generate" "check" "audit" \
           "audit verify" "audit head" "audit keygen" "wave"; do
  # shellcheck disable=SC2086
  expect 0 "help $cmd" -- "$bin" $cmd --help
done

expect 0 stats -- "$bin" history stats "$ex"
contains stats "invoke"
expect 0 stats-json -- "$bin" history stats "$ex" --json

# EDN -> JSONL -> EDN keeps every op.
expect 0 to-jsonl -- "$bin" history convert "$ex" "$work/h.jsonl"
expect 0 to-edn -- "$bin" history convert "$work/h.jsonl" "$work/h.edn"
expect 0 to-jsonl-again -- "$bin" history convert "$work/h.edn" "$work/h2.jsonl"
if cmp -s "$work/h.jsonl" "$work/h2.jsonl"; then passed=$((passed + 1)); else
  failed=$((failed + 1)); echo "FAIL round trip: h.jsonl and h2.jsonl differ"; fi

# A malformed line names the file and the line, exit 3.
printf '{:type :invoke, :process 0, :f :read}\n{:type :ok, :process 0 :f :read, :value [1 2}\n' \
  > "$work/bad.edn"
expect 3 malformed -- "$bin" history stats "$work/bad.edn"
contains malformed "bad.edn: line 2"

# Logs: keygen, sign, verify, pin the head, and every kind of failure with its own exit code.
expect 0 keygen -- "$bin" audit keygen "$work/keys"
expect 3 keygen-refuses-overwrite -- "$bin" audit keygen "$work/keys"
expect 0 to-log -- "$bin" history convert "$ex" "$work/run.log" --sign-key "$work/keys/faultline.key"
expect 0 head -- "$bin" audit head "$work/run.log"
head=$LAST_OUTPUT
expect 0 verify -- "$bin" audit verify "$work/run.log" --key "$work/keys/faultline.pub" \
  --expect-head "$head"
expect 7 verify-without-key -- "$bin" audit verify "$work/run.log"
contains verify-without-key "signatures not checked"
expect 0 verify-allow-unauthenticated -- "$bin" audit verify "$work/run.log" --allow-unauthenticated
expect 4 wrong-head -- "$bin" audit verify "$work/run.log" --key "$work/keys/faultline.pub" \
  --expect-head 0000000000000000000000000000000000000000000000000000000000000000
"$bin" audit keygen "$work/other" >/dev/null 2>&1
expect 4 wrong-key -- "$bin" audit verify "$work/run.log" --key "$work/other/faultline.pub"

# Flip one digit of a value in record 5: tampered, naming the record.
sed '6s/"value":1/"value":7/' "$work/run.log" > "$work/edited.log"
if cmp -s "$work/run.log" "$work/edited.log"; then
  sed '6s/:1,/:7,/' "$work/run.log" > "$work/edited.log"
fi
expect 4 tampered -- "$bin" audit verify "$work/edited.log" --key "$work/keys/faultline.pub"
contains tampered "record"
expect 3 check-refuses-tampered -- "$bin" check "$work/edited.log" --model cas-register

# Cut the log mid-record: a crash prefix, still checkable, and `check` says so.
size=$(stat -c %s "$work/run.log")
head -c $((size * 2 / 3)) "$work/run.log" > "$work/torn.log"
expect 5 torn -- "$bin" audit verify "$work/torn.log" --key "$work/keys/faultline.pub"
expect 0 check-crash-prefix -- "$bin" check "$work/torn.log" --model cas-register
contains check-crash-prefix "crash prefix"
printf 'not a log\n' > "$work/junk.log"
expect 6 unreadable -- "$bin" audit verify "$work/junk.log"

# check: verdicts and exit codes, several files.
expect 0 check-valid -- "$bin" check "$ex" --model cas-register
expect 1 check-invalid -- "$bin" check "$src/examples/stale-read.edn" --model cas-register
expect 1 check-many -- "$bin" check "$ex" "$src/examples/stale-read.edn" --model cas-register
expect 3 check-unknown-model -- "$bin" check "$ex" --model no-such-model
expect 3 check-missing-file -- "$bin" check "$work/none.edn" --model cas-register
expect 1 check-json -- "$bin" check "$src/examples/stale-read.edn" --model cas-register --json
contains check-json '"verdict"'
expect 1 check-html -- "$bin" check "$src/examples/stale-read.edn" --model cas-register \
  --html "$work/r.html"
if [[ -s $work/r.html ]]; then passed=$((passed + 1)); else
  failed=$((failed + 1)); echo "FAIL check-html: no report written"; fi

# Transactions: generated histories, a planted anomaly, the --consistency table followed.
expect 0 gen-txn -- "$bin" history generate --model list-append --ops 300 --info-rate 0.05 \
  --seed 4 --out "$work/t.jsonl"
expect 0 check-txn-valid -- "$bin" check "$work/t.jsonl" --model list-append
expect 0 stats-txn -- "$bin" history stats "$work/t.jsonl"
contains stats-txn "txns         301"
expect 0 gen-skew -- "$bin" history generate --model list-append --ops 50 --anomaly G2-item \
  --out "$work/skew.edn" --to edn
expect 0 check-skew-si -- "$bin" check "$work/skew.edn" --model list-append \
  --consistency snapshot-isolation
expect 1 check-skew-ser -- "$bin" check "$work/skew.edn" --model list-append \
  --consistency serializable
contains check-skew-ser "G2-item: T"
expect 1 check-skew-json -- "$bin" check "$work/skew.edn" --model list-append --json
contains check-skew-json '"forbidden_found":["G2-item"]'
expect 3 check-bad-consistency -- "$bin" check "$work/skew.edn" --model list-append \
  --consistency eventual
expect 3 gen-rw-no-g0 -- "$bin" history generate --model rw-register --anomaly G0
contains gen-rw-no-g0 "cannot plant \"G0\" in a rw-register history"
# generate writes the format --out's extension names (JSON Lines otherwise); not a log.
expect 0 gen-by-extension-edn -- "$bin" history generate --model list-append --ops 20 \
  --out "$work/g.edn"
if [[ $(head -c 2 "$work/g.edn") == '{:' ]]; then passed=$((passed + 1)); else
  failed=$((failed + 1)); echo "FAIL gen-by-extension-edn: not EDN"; fi
expect 0 gen-by-extension-json -- "$bin" history generate --model list-append --ops 20 \
  --out "$work/g.json"
if [[ $(head -c 2 "$work/g.json") == '[{' ]]; then passed=$((passed + 1)); else
  failed=$((failed + 1)); echo "FAIL gen-by-extension-json: not a JSON array"; fi
expect 0 check-gen-json -- "$bin" check "$work/g.json" --model list-append
contains check-gen-json "json, "
expect 0 gen-to-wins -- "$bin" history generate --ops 20 --out "$work/g2.edn" --to jsonl
if [[ $(head -c 2 "$work/g2.edn") == '{"' ]]; then passed=$((passed + 1)); else
  failed=$((failed + 1)); echo "FAIL gen-to-wins: --to jsonl did not win over .edn"; fi
expect 3 gen-no-log -- "$bin" history generate --ops 20 --out "$work/g.log"
contains gen-no-log "faultline history convert"
# elle-cli's JSON: one array of ops. Written by convert (.json), read back, checked alike.
expect 0 convert-to-elle-json -- "$bin" history convert "$work/skew.edn" "$work/skew.json"
if [[ $(head -c 2 "$work/skew.json") == '[{' ]]; then passed=$((passed + 1)); else
  failed=$((failed + 1)); echo "FAIL convert-to-elle-json: not a JSON array"; fi
expect 1 check-elle-json -- "$bin" check "$work/skew.json" --model list-append
contains check-elle-json "json, "
contains check-elle-json "G2-item: T"
# Elle's canonical G0, as a person writes it for elle-cli: two writers, orders that disagree.
cat > "$work/g0.json" <<'EOF'
[{"index": 0, "process": 0, "type": "invoke", "value": [["append", 1, 1], ["append", 2, 1]]},
 {"index": 1, "process": 0, "type": "ok",     "value": [["append", 1, 1], ["append", 2, 1]]},
 {"index": 2, "process": 1, "type": "invoke", "value": [["append", 1, 2], ["append", 2, 2]]},
 {"index": 3, "process": 1, "type": "ok",     "value": [["append", 1, 2], ["append", 2, 2]]},
 {"index": 4, "process": 2, "type": "invoke", "value": [["r", 1, null], ["r", 2, null]]},
 {"index": 5, "process": 2, "type": "ok",     "value": [["r", 1, [1, 2]], ["r", 2, [2, 1]]]}]
EOF
expect 1 check-elle-g0 -- "$bin" check "$work/g0.json" --model list-append \
  --consistency read-committed
contains check-elle-g0 "G0"
printf '[{"type": "invoke", "process": 0},\n {"type": "ok", "value": [1,}]\n' > "$work/bad.json"
expect 3 check-elle-json-bad -- "$bin" check "$work/bad.json" --model list-append
contains check-elle-json-bad "bad.json: line 2: expected a value, got '}' at column 29"
# A campaign's history says what its run claims; check follows it unless told otherwise.
{ echo '{"faultline":{"claims":{"model":"list-append","consistency":"snapshot-isolation"}}}'
  "$bin" history convert "$work/skew.edn" - --to jsonl 2>/dev/null; } > "$work/claimed.jsonl"
expect 0 check-claims -- "$bin" check "$work/claimed.jsonl"
contains check-claims "checked as its run claims: --model list-append --consistency snapshot-isolation"
expect 1 check-claims-overridden -- "$bin" check "$work/claimed.jsonl" --consistency serializable
contains check-claims-overridden "G2-item: T"
# The claims survive conversion to a log and back to JSON Lines.
expect 0 convert-claims-log -- "$bin" history convert "$work/claimed.jsonl" "$work/claimed.log"
expect 0 convert-claims-jsonl -- "$bin" history convert "$work/claimed.log" "$work/again.jsonl"
expect 0 check-claims-again -- "$bin" check "$work/again.jsonl"
contains check-claims-again "--consistency snapshot-isolation"

# A Jepsen history whose invocation is stamped before the op above it: checked, with one warning.
printf '%s\n' '{:index 0, :time 100, :type :invoke, :process 0, :f :write, :value 1}' \
  '{:index 1, :time 90, :type :invoke, :process 1, :f :read, :value nil}' \
  '{:index 2, :time 200, :type :ok, :process 0, :f :write, :value 1}' \
  '{:index 3, :time 210, :type :ok, :process 1, :f :read, :value 1}' > "$work/skewed-time.edn"
expect 0 check-time-regression -- "$bin" check "$work/skewed-time.edn" --model cas-register
contains check-time-regression "1 op has a :time before that of an op above (first: line 2)"

# A wave scenario's mistakes are named by file and field before any cluster is touched (no root).
cp "$src/scenarios/DIRT01-process-kill.json" "$work/"
printf '%s\n' '{"id": "W", "title": "t", "drill": "DIRT01-process-kill.json",' \
  ' "campaign": {"nodes": 3}, "fit": {}}' > "$work/wave-bad.json"
expect 3 wave-bad-scenario -- "$bin" wave "$work/wave-bad.json" --out "$work/wave-run"
contains wave-bad-scenario "wave-bad.json: campaign.nodes: set by the wave"

# The offline part of a campaign, on the bundled example (the README main job is a campaign,
# which needs root and an etcd cluster: runner_local_campaign_test covers it).
expect 0 example -- "$src/tools/example.sh" "$bin"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
