#!/usr/bin/env bash
# What the faulty filesystem (nemesis/disk.h, campaign --disk) costs etcd: the same write-only
# campaign (register workload, no faults, fixed seed) on a 3-node local cluster twice, side by
# side in one run: the data dirs directly on this machine's disk, then on the FUSE filesystem.
# Prints each run's ok ops/s and the ratio (goal: >= 50% of direct). Root; release build.
#   tools/disk_bench.sh [FAULTLINE_BINARY] [SECONDS] [CONCURRENCY]
set -euo pipefail
bin=${1:-build/release/tools/faultline}
secs=${2:-15}
conc=${3:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() {  # $1: label, rest: extra flags; prints ok ops/s
  local label=$1
  shift
  "$bin" campaign --name dbench --nodes 3 --workload register --nemesis none --seed 1 \
    --time-limit "$secs" --concurrency "$conc" --out "$work/$label" "$@" >"$work/$label.txt" 2>&1 ||
    true
  local ops
  ops=$(grep -o '[0-9.]* ops/s' "$work/$label.txt" | tail -1 | cut -d' ' -f1)
  if [[ -z $ops ]]; then
    echo "disk_bench: the $label run printed no throughput:" >&2
    cat "$work/$label.txt" >&2
    exit 1
  fi
  echo "$ops"
}

direct=$(run direct)
fuse=$(run fuse --disk)
echo "etcd register writes, 3 nodes, concurrency $conc, $secs s, seed 1"
echo "  direct data dirs:      $direct ops/s"
echo "  on the FUSE filesystem: $fuse ops/s"
awk -v d="$direct" -v f="$fuse" 'BEGIN { printf "  ratio: %.1f%% of direct\n", 100 * f / d }'
