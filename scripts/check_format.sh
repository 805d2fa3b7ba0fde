#!/usr/bin/env bash
# make check-format: every C and C++ file git tracks is as the committed .clang-format (Debian 12's
# clang-format 14) would write it. Prints the files that are not and exits 1; fix them with
#   git ls-files '*.cpp' '*.h' '*.c' | xargs clang-format-14 -i
set -euo pipefail
cd "$(dirname "$0")/.."
format=${CLANG_FORMAT:-clang-format-14}
command -v "$format" >/dev/null || { echo "check_format.sh: $format not found (make setup installs it)" >&2; exit 2; }
bad=()
while IFS= read -r file; do
  "$format" --dry-run --Werror "$file" >/dev/null 2>&1 || bad+=("$file")
done < <(git ls-files '*.cpp' '*.h' '*.c')
if [[ ${#bad[@]} -gt 0 ]]; then
  printf 'not clang-formatted: %s\n' "${bad[@]}" >&2
  echo "check-format: ${#bad[@]} file(s) differ from .clang-format; run: $format -i FILE" >&2
  exit 1
fi
echo "check-format: $(git ls-files '*.cpp' '*.h' '*.c' | wc -l) files clean"
