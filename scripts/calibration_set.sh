#!/usr/bin/env bash
# The calibration photos of isnet-qdq (scripts/isnet_qdq.py; docs/PERFORMANCE.md): 20 everyday
# photos from two pinned Debian packages' example data (scikit-image's and OpenCV's), none of them in
# ../shared/eval, so the quality reported on the eval sets is not measured on what set the ranges.
# Usage: scripts/calibration_set.sh DIR   (fetches the .debs into .cache/downloads, sha256-checked)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: scripts/calibration_set.sh DIR}"
cache="$root/.cache/downloads"
mkdir -p "$cache" "$out"

# package=version  sha256 of the .deb  files (under the package's data folder)
SETS=(
  "python3-skimage=0.19.3-8 728d88c3e3440f1f3712de0805dc834d29248ff07e1eec8c0f3da07606f752f9 usr/lib/python3/dist-packages/skimage/data astronaut.png chelsea.png coffee.png rocket.jpg motorcycle_left.png"
  "opencv-doc=4.6.0+dfsg-12 4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a usr/share/doc/opencv-doc/examples/data baboon.jpg fruits.jpg messi5.jpg butterfly.jpg apple.jpg orange.jpg squirrel_cls.jpg building.jpg home.jpg aero1.jpg basketball1.png chicky_512.png HappyFish.jpg ela_original.jpg box_in_scene.png"
)
for set in "${SETS[@]}"; do
  read -r pkgver sha dir files <<<"$set"
  pkg="${pkgver%%=*}"
  deb="$cache/${pkg}_${pkgver#*=}_all.deb"
  if [[ ! -f $deb || $(sha256sum "$deb" | cut -d' ' -f1) != "$sha" ]]; then
    (cd "$cache" && apt-get download -q "$pkgver" >/dev/null 2>&1) || { echo "calibration_set: cannot download $pkgver" >&2; exit 1; }
    deb="$(ls "$cache/${pkg}_"*_all.deb | head -1)"
  fi
  got="$(sha256sum "$deb" | cut -d' ' -f1)"
  [[ $got == "$sha" ]] || { echo "calibration_set: $deb: sha256 $got, expected $sha" >&2; exit 1; }
  tmp="$(mktemp -d)"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" $(for f in $files; do echo "./$dir/$f"; done)
  for f in $files; do cp "$tmp/$dir/$f" "$out/$f"; done
  rm -rf "$tmp"
done
echo "calibration_set: $(ls "$out" | wc -l) photos in $out"
