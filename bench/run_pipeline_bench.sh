#!/usr/bin/env bash
# The pipeline benchmark of docs/PERFORMANCE.md: `cutout bench` (2 threads, isnet-qdq, isnet and
# isnet-int8) on a 1024x1024 and a 12 MP (4032x3024) JPEG made from an eval photo, plus the
# peak RSS of `cutout remove` on the 12 MP photo. Usage: bench/run_pipeline_bench.sh [BUILD_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
out="$build/bench-data"
mkdir -p "$out"
src="$root/../shared/eval/grabcut/images/person1.jpg"
[[ -f "$out/photo_1024.jpg" ]] || "$build/make_bench_image" "$src" "$out/photo_1024.jpg" 1024 1024
[[ -f "$out/photo_12mp.jpg" ]] || "$build/make_bench_image" "$src" "$out/photo_12mp.jpg" 4032 3024
runs="${RUNS:-5}"
for model in ${MODELS:-isnet-qdq isnet isnet-int8}; do
  for photo in photo_1024 photo_12mp; do
    echo "== $model, $photo.jpg"
    "$build/cutout" bench --image "$out/$photo.jpg" --runs "$runs" --threads 2 --model "$model" \
      --json >"$out/$model-$photo.json"
    python3 - "$out/$model-$photo.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
s = j["stages_median_ms"]
print(f"  load {j['model_load_ms']:.0f} ms, first run {j['first_inference_ms']:.0f} ms, "
      f"bare run {j['bare_run_ms']['median']:.0f} ms, pipeline {j['pipeline_ms']['median']:.0f} ms, "
      f"ratio {j['pipeline_over_bare']:.3f}, peak RSS {j['peak_rss_bytes']/1e9:.2f} GB")
print("  stages: " + ", ".join(f"{k} {v:.1f}" for k, v in s.items()) + " ms")
PY
  done
  echo "== $model, cutout remove on photo_12mp.jpg (peak RSS)"
  /usr/bin/time -f "  peak RSS %M kB, %e s" "$build/cutout" remove "$out/photo_12mp.jpg" -o "$out/out_$model.png" \
    --threads 2 --model "$model" -q
done
