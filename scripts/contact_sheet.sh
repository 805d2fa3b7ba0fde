#!/usr/bin/env bash
# Renders docs/effects_contact_sheet.png: six eval photos and their four effects (default
# parameters), with the real model. Usage: scripts/contact_sheet.sh [BUILD_DIR] [--param N=V ...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
shift || true
eval_dir="$root/../shared/eval"
out="$build/contact-sheet"
rm -rf "$out" && mkdir -p "$out"
photos=(grabcut/images/person1.jpg grabcut/images/189080.jpg grabcut/images/181079.jpg
        grabcut/images/llama.bmp davis2016/images/dog_00030.jpg grabcut/images/326038.jpg)
inputs=()
for p in "${photos[@]}"; do inputs+=("$eval_dir/$p"); done
"$build/cutout" remove "${inputs[@]}" --effects color,bw,popart,dither -o "$out" -q "$@"
rows=()
for p in "${photos[@]}"; do
  stem="$(basename "${p%.*}")"
  rows+=("$eval_dir/$p,$out/$stem.color.png,$out/$stem.bw.png,$out/$stem.popart.png,$out/$stem.dither.png")
done
"$build/contact_sheet" "$root/docs/effects_contact_sheet.png" "${rows[@]}"
echo "wrote docs/effects_contact_sheet.png"
