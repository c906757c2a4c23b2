#!/usr/bin/env bash
# `--junit FILE` end to end (issue 15 §2): the XML that `faultline check` and `faultline audit
# verify` write is parsed back with python3's xml.etree (as a CI system reads it), and its counts,
# outcomes and messages are checked for valid, invalid, unknown and could-not-check cases, and
# for an intact and a tampered log.
# Usage: junit_test.sh FAULTLINE SOURCE_DIR
set -euo pipefail
faultline=${1:?usage: junit_test.sh FAULTLINE SOURCE_DIR}
src=${2:?usage: junit_test.sh FAULTLINE SOURCE_DIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

expect_rc() {  # expect_rc WANT COMMAND...
  local want=$1
  shift
  set +e
  "$@" >/dev/null 2>&1
  local rc=$?
  set -e
  if [[ $rc -ne $want ]]; then
    echo "FAIL: exit $rc, expected $want: $*" >&2
    exit 1
  fi
}

# A history the search cannot decide within 1 ms: unknown.
"$faultline" history generate --model cas-register --ops 20000 --processes 30 --seed 1 >big.jsonl
# Text a CI page must show as written: XML's special characters and a control byte.
printf '{:type :invoke, :f :read, :value nil, :process 0}\n{:type :ok, :f :read, :value "<&\x01>", :process 0}\n' >odd.edn

expect_rc 0 "$faultline" check "$src/examples/etcd-cas.edn" --model cas-register --junit valid.xml
expect_rc 1 "$faultline" check "$src/examples/stale-read.edn" --model cas-register --junit invalid.xml
expect_rc 2 "$faultline" check big.jsonl --model cas-register --time-limit 0.001 --junit unknown.xml
expect_rc 1 "$faultline" check "$src/examples/etcd-cas.edn" "$src/examples/stale-read.edn" \
  big.jsonl missing.edn odd.edn --model cas-register --time-limit 0.001 --junit all.xml

"$faultline" history convert "$src/examples/etcd-cas.edn" run.log >/dev/null
expect_rc 0 "$faultline" audit verify run.log --junit intact.xml
python3 - <<'EOF'
data = bytearray(open("run.log", "rb").read())
at = data.index(b'"write"') + 2  # a byte inside a recorded op
data[at] = ord("W") if data[at] != ord("W") else ord("X")
open("tampered.log", "wb").write(bytes(data))
EOF
expect_rc 4 "$faultline" audit verify tampered.log --junit tampered.xml

python3 - <<'EOF'
import xml.etree.ElementTree as ET

def load(path):
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites", (path, root.tag)
    suites = root.findall("testsuite")
    # Counts on every suite and on the root agree with the cases.
    totals = dict(tests=0, failures=0, errors=0, skipped=0)
    for s in suites:
        cases = s.findall("testcase")
        got = dict(tests=len(cases),
                   failures=sum(c.find("failure") is not None for c in cases),
                   errors=sum(c.find("error") is not None for c in cases),
                   skipped=sum(c.find("skipped") is not None for c in cases))
        for k, v in got.items():
            assert int(s.get(k)) == v, (path, k, s.get(k), v)
            totals[k] += v
        assert float(s.get("time")) >= 0, path
        for c in cases:
            assert c.get("name") and c.get("classname") and float(c.get("time")) >= 0, path
    for k, v in totals.items():
        assert int(root.get(k)) == v, (path, k)
    return [c for s in suites for c in s.findall("testcase")]

def outcome(case):
    for tag in ("failure", "error", "skipped"):
        if case.find(tag) is not None:
            return tag
    return "passed"

(c,) = load("valid.xml")
assert outcome(c) == "passed" and c.get("classname") == "faultline.check.cas-register", c.attrib

(c,) = load("invalid.xml")
f = c.find("failure")
assert f is not None and f.get("type") == "invalid", c
assert "read() -> 1, but the register holds 2" in f.get("message"), f.get("message")
assert "longest linearizable prefix" in f.text, f.text  # the counterexample summary

(c,) = load("unknown.xml")
s = c.find("skipped")
assert s is not None and "time limit" in s.get("message"), c

cases = load("all.xml")
assert [outcome(c) for c in cases] == ["passed", "failure", "skipped", "error", "failure"], \
    [outcome(c) for c in cases]
assert "missing.edn" in cases[3].find("error").get("message"), cases[3].find("error").attrib
# Escaped in the file, read back as written: the read's value "<&\x01>".
assert cases[4].get("name") == "odd.edn"
assert 'read() -> "<&\\u0001>"' in cases[4].find("failure").get("message"), \
    cases[4].find("failure").get("message")

(c,) = load("intact.xml")
assert outcome(c) == "passed" and c.get("classname") == "faultline.audit.verify", c.attrib
(c,) = load("tampered.xml")
assert outcome(c) == "failure" and c.find("failure").get("type") == "tampered", c.find("failure").attrib
print("junit: 6 documents parsed, counts and outcomes as expected")
EOF
