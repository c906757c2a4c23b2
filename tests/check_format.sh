#!/usr/bin/env bash
# Fails when a tracked C++ source differs from what clang-format (the repo's .clang-format) writes.
set -euo pipefail
root=${1:?usage: check_format.sh SOURCE_DIR}
cd "$root"
# Tracked files that still exist (a file deleted but not yet committed is still listed by git).
mapfile -t files < <(git ls-files '*.h' '*.cc' 2>/dev/null | while read -r f; do
                       [[ -f $f ]] && echo "$f"; done || true)
if [[ ${#files[@]} -eq 0 ]]; then
  mapfile -t files < <(find common history checker client nemesis cluster runner dirt tools tests \
                         \( -name '*.h' -o -name '*.cc' \) 2>/dev/null)
fi
clang-format --dry-run -Werror "${files[@]}"
echo "format: ${#files[@]} files match .clang-format"
