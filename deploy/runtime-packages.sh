#!/usr/bin/env bash
# Prints the Debian packages that hold the shared libraries a binary links directly (its DT_NEEDED
# entries, resolved by ldd, owners by dpkg -S), one per line, for the container's runtime stage; apt
# brings their own dependencies. Derived from the binary, so the list cannot drift from what the
# build links. Libraries that no package owns (ONNX Runtime's, copied in) are skipped.
set -euo pipefail
binary="${1:?usage: runtime-packages.sh BINARY}"
resolved="$(ldd "$binary")"
objdump -p "$binary" | awk '$1 == "NEEDED" {print $2}' | while read -r name; do
  lib="$(awk -v n="$name" '$1 == n && $3 ~ /^\// {print $3}' <<<"$resolved")"
  [[ -n "$lib" ]] || { echo "runtime-packages: $name is not found by ldd" >&2; exit 1; }
  dpkg -S "$lib" 2>/dev/null || dpkg -S "$(realpath "$lib")" 2>/dev/null || true
done | cut -d: -f1 | sort -u
