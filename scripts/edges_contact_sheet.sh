#!/usr/bin/env bash
# Renders docs/edges_contact_sheet.jpg (issue 15): hair of alphamatting photos, cut out without
# and with the edge stages (refine=guided, decontaminate=true), on white and on black, each a crop
# around the photo's transition band enlarged 2x. Real model; ImageMagick's montage; numpy finds
# the crop. Usage: scripts/edges_contact_sheet.sh [BUILD_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
eval_dir="$root/../shared/eval/alphamatting"
out="$build/edges-sheet"
rm -rf "$out" && mkdir -p "$out"
stems=(${EDGES_SHEET_PHOTOS:-GT03 GT04 GT08 GT16 GT13})
cells=()
for stem in "${stems[@]}"; do
  photo="$eval_dir/images/$stem.png"
  # The crop: a square of a third of the shorter side, centred on the median transition pixel.
  crop=$(convert "$eval_dir/alphas/$stem.png" -colorspace gray -depth 8 pgm:- | /usr/bin/python3 -c '
import sys, numpy as np
data = sys.stdin.buffer.read()
parts = data.split(maxsplit=4)
w, h = int(parts[1]), int(parts[2])
a = np.frombuffer(parts[4][: w * h], np.uint8).reshape(h, w)
ys, xs = np.nonzero((a > 0) & (a < 255))
side = min(w, h) // 3
cx, cy = int(np.median(xs)), int(np.median(ys))
x0 = min(max(cx - side // 2, 0), w - side)
y0 = min(max(cy - side // 2, 0), h - side)
print(f"{side}x{side}+{x0}+{y0}")')
  convert "$photo" -crop "$crop" +repage -scale 200% "$out/$stem.photo.png"
  cells+=("$out/$stem.photo.png")
  for bg in white black; do
    "$build/cutout" remove "$photo" -o "$out/$stem.none.$bg.png" --background "$bg" -q
    "$build/cutout" remove "$photo" -o "$out/$stem.edges.$bg.png" --background "$bg" --refine guided \
      --decontaminate true -q
    for kind in none edges; do
      convert "$out/$stem.$kind.$bg.png" -crop "$crop" +repage -scale 200% "$out/$stem.$kind.$bg.crop.png"
      cells+=("$out/$stem.$kind.$bg.crop.png")
    done
  done
done
labels=()
for stem in "${stems[@]}"; do
  labels+=("$stem photo" "on white: before" "on white: refine + decontaminate" "on black: before"
           "on black: refine + decontaminate")
done
args=()
for i in "${!cells[@]}"; do args+=(-label "${labels[$i]}" "${cells[$i]}"); done
montage "${args[@]}" -tile 5x -geometry 300x300+6+6 -background '#e8e8e8' -pointsize 15 -font DejaVu-Sans -quality 85 \
  "$root/docs/edges_contact_sheet.jpg"
echo "wrote docs/edges_contact_sheet.jpg"
