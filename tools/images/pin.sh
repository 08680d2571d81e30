#!/usr/bin/env bash
# Pins every image the project runs by digest, beside its tag: the backend's
# base images (backend/Dockerfile's FROM lines), the tracing sidecars'
# default images (constructs/tracing's Default*Image) and the compose file's
# daemon. A tag can be rebuilt in place (distroless's :nonroot is, often);
# a digest cannot, so a new base shows in the diff as a changed digest.
#
#   tools/images/pin.sh          resolve each image's tag now and write
#                                NAME:TAG@sha256:... (replacing an older pin)
#   tools/images/pin.sh --check  exit 1, naming each, if any is not pinned
#
# It asks the registry with crane (go-containerregistry), so it needs the
# registries (Docker Hub, gcr.io, ECR Public) to be reachable; CRANE may name
# another command that prints a reference's digest (the tests' stand-in).
set -euo pipefail
cd "$(dirname "$0")/../.."
crane=${CRANE:-go run github.com/google/go-containerregistry/cmd/crane@v0.22.1}
files=(backend/Dockerfile backend/docker-compose.yml constructs/tracing/adot.go constructs/tracing/cloudwatch.go constructs/tracing/daemon.go)
# An image reference as these files write it: after FROM (and its flags), or
# in a Go or YAML string; its digest, if pinned, after @.
refs() {
  grep -ohE '^FROM( --[^ ]+)* [^ ]+|(image: |Image = )"[^"]+"' "${files[@]}" |
    sed -E 's/^FROM( --[^ ]+)* //; s/^(image: |Image = )"//; s/"$//' | sort -u
}
unpinned=()
while read -r ref; do
  [[ $ref == *@sha256:* ]] || unpinned+=("$ref")
done < <(refs)
if [ "${1:-}" = --check ]; then
  [ "${#unpinned[@]}" -eq 0 ] && { echo "images: every image is pinned by digest"; exit 0; }
  printf 'images: not pinned by digest: %s\n' "${unpinned[@]}" >&2
  exit 1
fi
# Every digest first, then the files: a registry that fails half way
# leaves them as they were.
mapfile -t all < <(refs)
pins=()
for ref in "${all[@]}"; do
  tagged=${ref%@sha256:*}
  digest=$($crane digest "$tagged")
  [[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "images: $tagged: the registry answered ${digest:0:80}, not a digest" >&2; exit 1; }
  pins+=("$ref" "$tagged@$digest")
done
for ((i = 0; i < ${#pins[@]}; i += 2)); do
  ref=${pins[i]} pinned=${pins[i + 1]}
  [ "$ref" = "$pinned" ] && continue
  for f in "${files[@]}"; do
    REF=$ref PINNED=$pinned perl -pi -e 's/\Q$ENV{REF}\E(?=["\s]|$)/$ENV{PINNED}/g' "$f"
  done
  echo "images: $pinned"
done
