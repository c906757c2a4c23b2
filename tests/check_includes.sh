#!/usr/bin/env bash
# Fails when a module includes a project header from a module it may not depend on
# (../shared/STYLE.md §2: a module uses only what it reaches by following lines downward), or
# another module's internal/ header (STYLE.md §20: internal/ is not part of a module's API).
# tools/ may depend on every module but not on their internals; tests/ may use anything.
set -euo pipefail
root=${1:?usage: check_includes.sh SOURCE_DIR}
cd "$root"
declare -A allowed=(
  [common]="common"
  [history]="common history"
  [checker]="common history checker"
  [client]="common history client"
  [nemesis]="common nemesis"
  [cluster]="common nemesis cluster"
  [systems]="common history client nemesis cluster systems"
  [runner]="common history checker client nemesis cluster systems runner"
  [dirt]="common history checker client nemesis cluster systems runner dirt"
  [fit]="common history checker client nemesis cluster systems dirt fit"
  [report]="common history checker report"
  [wave]="common history checker client nemesis cluster systems runner dirt fit wave"
  [tools]="common history checker client nemesis cluster systems runner dirt fit report wave tools"
)
modules="common history checker client nemesis cluster systems runner dirt fit report wave tools tests"
# A particular system's headers: the generic modules reach systems only through systems/system.h
# and systems/registry.h. (dirt/ still drives etcd directly; issue 14.)
system_headers="client/etcd.h client/exec.h"
bad=0
checked=0
for dir in "${!allowed[@]}"; do
  [[ -d $dir ]] || continue
  while IFS= read -r file; do
    checked=$((checked + 1))
    while IFS= read -r inc; do
      top=${inc%%/*}
      [[ " $modules " == *" $top "* ]] || continue   # not a project header
      if [[ " ${allowed[$dir]} " != *" $top "* ]]; then
        echo "$file: includes \"$inc\": $dir/ may not depend on $top/ (see STYLE.md §2)"
        bad=1
      elif [[ " runner nemesis checker " == *" $dir "* && " $system_headers " == *" $inc "* ]]; then
        echo "$file: includes \"$inc\": $dir/ works through systems/system.h, never a particular system's header (see STYLE.md §35)"
        bad=1
      elif [[ $top != "$dir" && $inc == */internal/* ]]; then
        echo "$file: includes \"$inc\": another module's internal header (see STYLE.md §20)"
        bad=1
      fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
  done < <(find "$dir" -name '*.h' -o -name '*.cc' | sort)
done
if [[ $checked -eq 0 ]]; then
  echo "no source files found under $root" >&2
  exit 1
fi
[[ $bad -eq 0 ]] && echo "include direction: $checked files checked, all includes go downward"
exit $bad
