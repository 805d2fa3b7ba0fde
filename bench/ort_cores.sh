#!/usr/bin/env bash
# Which ONNX Runtime core serves CPU best (issue 17): `cutout bench` on each core in turn, rounds
# interleaved so that both see the same machine; medians per core and microsoft/asus4 ratios.
# Usage: bench/ort_cores.sh [ROUNDS] [MODEL...]   (default: 4 rounds, isnet-qdq and isnet)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${CUTOUT_BIN:-$root/build/cutout}"
photo="${CUTOUT_EVAL_DIR:-$root/../shared/eval}/grabcut/images/person1.jpg"
rounds="${1:-4}"
shift || true
models=("${@:-isnet-qdq}")
[[ $# -gt 0 ]] || models=(isnet-qdq isnet)
out="${CUTOUT_BENCH_OUT:-$(mktemp -d)}"
[[ -n "${CUTOUT_BENCH_OUT:-}" ]] || trap 'rm -rf "$out"' EXIT
for model in "${models[@]}"; do
  for ((r = 0; r < rounds; r++)); do
    for core in asus4 microsoft; do
      "$bin" bench --image "$photo" --runs 5 --json --model "$model" --ort-core "$core" 2>/dev/null \
        >"$out/$model.$core.$r.json"
    done
  done
done
python3 - "$out" "${models[@]}" <<'PY'
import json, pathlib, statistics, sys
out, models = pathlib.Path(sys.argv[1]), sys.argv[2:]
keys = [("model_load_ms", "session creation ms"), ("first_inference_ms", "first run ms"),
        ("bare", "bare run ms (median)"), ("pipeline", "pipeline ms (median)"), ("peak_rss_mb", "peak RSS MB")]
def figures(d):
    return {"model_load_ms": d["model_load_ms"], "first_inference_ms": d["first_inference_ms"],
            "bare": d["bare_run_ms"]["median"], "pipeline": d["pipeline_ms"]["median"],
            "peak_rss_mb": d["peak_rss_bytes"] / 2**20}
for model in models:
    per = {}
    for core in ("asus4", "microsoft"):
        runs = [figures(json.loads(p.read_text())) for p in sorted(out.glob(f"{model}.{core}.*.json"))]
        per[core] = {k: statistics.median(r[k] for r in runs) for k, _ in keys}
    print(f"{model} ({len(runs)} rounds, interleaved)")
    print(f"  {'':24} {'asus4':>9} {'microsoft':>10} {'ratio':>7}")
    for k, label in keys:
        a, m = per["asus4"][k], per["microsoft"][k]
        print(f"  {label:24} {a:9.1f} {m:10.1f} {m / a:7.3f}")
PY
