#!/usr/bin/env bash
# DiRT drills on the built-in systems other than etcd (issue 14 §1: the scenarios work on every
# built-in system): `faultline dirt run --system S` brings up its own cluster (own name and state
# dir), runs a scenario, and tears the cluster down, also when the test fails.
# Asserts for each system: the verdict is PASS, the load reached at least a quarter of the rate
# the drill requests (the pre-check's own bar; a drill whose monitor starved its load measured
# 2.5 of 100 ops/s), and nothing of the cluster is left behind.
# With a WAVE scenario it runs the combined wave instead and asserts every part valid.
# Usage: system_drill_test.sh FAULTLINE SOURCE_DIR SYSTEM SCENARIO... | WAVE_SCENARIO
set -euo pipefail
faultline=$1
src=$2
system=$3
shift 3

tmp=$(mktemp -d /var/tmp/faultline-sysdrill-XXXXXX)
name=sd$(($$ % 100000))
cleanup() {
  "$faultline" cluster down --name "$name" --state-dir "$tmp/state" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "system_drill_test ($system): $*" >&2
  exit 1
}

if [[ $1 == WAVE* ]]; then
  # A combined wave: drill, FIT experiment and campaign at once, each part valid, and the
  # system's own logs (not etcd's) copied into the run directory and searched.
  rc=0
  "$faultline" wave --system "$system" --name "$name" --state-dir "$tmp/state" \
    --out "$tmp/wave" "$src/scenarios/$1" || rc=$?
  [[ $rc -eq 0 ]] || fail "wave exited $rc (0 = valid)"
  python3 - "$tmp/wave" "$system" <<'EOF'
import json, pathlib, sys
out, system = pathlib.Path(sys.argv[1]), sys.argv[2]
r = json.loads((out / "results.json").read_text())
if r["verdict"] != "valid":
    sys.exit(f"{system} {r['wave']}: {r['verdict']}: {r['reasons']}")
parts = r["parts"]
seen = {"campaign": parts["campaign"]["valid"], "drill": parts["drill"]["verdict"],
        "fit": parts["fit"]["hypothesis"], "log_patterns": parts["log_patterns"]["validity"]}
if seen != {"campaign": "valid", "drill": "PASS", "fit": "held", "log_patterns": "valid"}:
    sys.exit(f"{system} {r['wave']}: parts {seen}")
if r["warnings"]:
    sys.exit(f"{system} {r['wave']}: warnings: {r['warnings']}")
logs = sorted(p.name for p in (out / "nodes" / "n1").iterdir())
if f"{system}.log" not in logs:
    sys.exit(f"{system} {r['wave']}: nodes/n1 holds {logs}, not {system}.log")
print(f"{system} {r['wave']}: valid; parts {seen}; nodes/n1: {logs}")
EOF
else
  scenarios=()
  for s in "$@"; do scenarios+=("$src/scenarios/$s"); done
  rc=0
  "$faultline" dirt run --system "$system" --name "$name" --state-dir "$tmp/state" \
    --out "$tmp/out" "${scenarios[@]}" || rc=$?
  [[ $rc -eq 0 ]] || fail "dirt run exited $rc (0 = every drill passed)"

python3 - "$tmp/out" "$system" <<'EOF'
import json, pathlib, sys
out, system = pathlib.Path(sys.argv[1]), sys.argv[2]
summary = json.loads((out / "test_summary.json").read_text())
if not summary["scenarios"]:
    sys.exit(f"{system}: no scenario in test_summary.json")
for s in summary["scenarios"]:
    if s["verdict"] != "PASS":
        sys.exit(f"{system} {s['scenario']}: {s['verdict']}: {s['reason']}")
    incident = json.loads((out / s["incident"]).read_text())
    base = incident["baseline_ops_per_s"]
    if base < 25:
        sys.exit(f"{system} {s['scenario']}: baseline {base:.1f} ops/s, under a quarter of 100")
    print(f"{system} {s['scenario']}: PASS, baseline {base:.1f} ops/s, {s['reason']}")
EOF
fi

# The run brought the cluster up, so it took it down: no state, no namespace, no server.
if "$faultline" cluster status --name "$name" --state-dir "$tmp/state" >/dev/null 2>&1; then
  fail "cluster $name is still up after the run"
fi
if ip netns list | grep -q "$name"; then fail "namespaces of $name left: $(ip netns list)"; fi
if pgrep -f "$tmp/state" >/dev/null; then fail "processes under $tmp/state left running"; fi
echo "system_drill_test ($system): ok"
