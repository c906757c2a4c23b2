#!/usr/bin/env bash
# The offline part of a campaign on the bundled example history (until the campaign runner exists):
# record it into a signed tamper-evident log, verify the log as a CI job would, then check it.
#   tools/example.sh [FAULTLINE_BINARY]
set -euo pipefail
bin=${1:-build/release/tools/faultline}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
example=$here/examples/etcd-cas.edn

echo "== history stats $example"
"$bin" history stats "$example"
echo "== record it into a signed, sealed log"
"$bin" audit keygen "$work/keys"
"$bin" history convert "$example" "$work/run.log" --sign-key "$work/keys/faultline.key"
echo "== verify the log with the public key and pin its head"
head=$("$bin" audit head "$work/run.log")
"$bin" audit verify "$work/run.log" --key "$work/keys/faultline.pub" --expect-head "$head"
echo "== check the logged history for linearizability (cas-register)"
"$bin" check "$work/run.log" --model cas-register --key "$work/keys/faultline.pub"
echo "== a stale read is caught"
set +e
"$bin" check "$here/examples/stale-read.edn" --model cas-register
code=$?
set -e
if [[ $code -ne 1 ]]; then
  echo "example: expected exit 1 (invalid) for the stale read, got $code" >&2
  exit 1
fi
echo "example: done"
