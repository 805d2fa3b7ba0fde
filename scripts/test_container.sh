#!/usr/bin/env bash
# make test-container: builds deploy/Dockerfile for real and tests the image (tests/container/).
#
# No image registry is reachable here, so the base images the Dockerfile names (debian:12,
# debian:12-slim) are made locally from Debian's packages with mmdebstrap and imported under those
# names; the Dockerfile itself stays standard. podman cannot run containers in this sandbox (crun
# cannot set RLIMIT_NOFILE), so the image is built with `buildah bud --isolation chroot` and run
# with `buildah run --isolation chroot`, which shares the host's network: enough to start the
# server from the image and test it over HTTP. Storage: vfs (no overlay mounts here).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
image="${CUTOUT_TEST_IMAGE:-localhost/cutout:test}"
cache="$root/.cache/container"
bah=(buildah --storage-driver vfs)
say() { echo "test-container: $*"; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
started=$(date +%s.%N)

scripts/setup.sh --container-tools >/dev/null
mkdir -p "$cache"  # the build log goes there even when the base images already exist

# The archive here is a fixed snapshot: apt must not reject its Release files as expired.
aptopt='Acquire::Check-Valid-Until "false";'
mirrors=("deb http://deb.debian.org/debian bookworm main"
         "deb http://deb.debian.org/debian bookworm-updates main"
         "deb http://deb.debian.org/debian-security bookworm-security main")
# What Docker's debian:*-slim leaves out: documentation, man pages, locales (copyrights kept).
slim=(--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias'
      --dpkgopt='path-exclude=/usr/share/lintian/*' --dpkgopt='path-exclude=/usr/share/groff/*')

# Where HTTPS goes through an inspecting proxy (this sandbox: its CA is in
# /usr/local/share/ca-certificates), the local base images carry that CA too, so that the build
# stage's own `apt-get install ca-certificates` trusts it, as the host does. Elsewhere: nothing added.
local_ca=()
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  local_ca=(--customize-hook='mkdir -p "$1/usr/local/share/ca-certificates"'
            --customize-hook='sync-in /usr/local/share/ca-certificates /usr/local/share/ca-certificates')
fi

make_base() { # tag [mmdebstrap options...]
  local tag="$1"; shift
  if "${bah[@]}" inspect --type image "$tag" >/dev/null 2>&1; then return 0; fi
  local tar="$cache/${tag##*:}.tar" t0
  t0=$(date +%s)
  say "making base image $tag with mmdebstrap"
  mmdebstrap --quiet --variant=minbase --aptopt="$aptopt" "${local_ca[@]}" "$@" bookworm "$tar" "${mirrors[@]}"
  podman --storage-driver vfs import --quiet "$tar" "$tag" >/dev/null
  rm -f "$tar"
  say "$tag made in $(( $(date +%s) - t0 )) s"
}
make_base docker.io/library/debian:12
make_base docker.io/library/debian:12-slim "${slim[@]}"

say "building $image from deploy/Dockerfile"
t0=$(date +%s.%N)
"${bah[@]}" bud --isolation chroot --layers --format docker -f deploy/Dockerfile -t "$image" . >"$cache/build.log" 2>&1 \
  || { tail -n 40 "$cache/build.log"; echo "test-container: the image build failed (log: $cache/build.log)" >&2; exit 1; }
build_s=$(since "$t0")
say "built in ${build_s} s"

python3 tests/container/container_test.py --image "$image" --eval-dir "${CUTOUT_EVAL_DIR:-$root/../shared/eval}" \
  --build-seconds "$build_s" --host-binary "${BUILD_DIR:-build}/cutout" --host-model "$root/models/isnet-qdq.onnx"
say "all done in $(since "$started") s"
