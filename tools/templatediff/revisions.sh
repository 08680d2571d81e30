#!/usr/bin/env bash
# Diffs every stage's template between two git revisions, offline: each
# revision is checked out in a temporary worktree and synthesized with the
# project's CDK CLI (no AWS account, no credentials), then diff.mjs compares
# each stack of either side under its own heading (a stack only one side has
# is diffed against an empty template).
#
#   tools/templatediff/revisions.sh BASE [HEAD] [diff.mjs options]
#
# HEAD defaults to the working tree as it is, uncommitted changes included.
# STACK=NAME diffs that one stack only.
# Exits as diff.mjs does: 3 when a guarded resource would be replaced or deleted
# (unless ALLOW_DESTRUCTIVE=1 or --allow-destructive), 0 otherwise.
set -euo pipefail

usage() { echo "usage: $0 BASE [HEAD] [--allow-destructive] [--markdown OUT.md]" >&2; exit 2; }
[ $# -ge 1 ] || usage
base=$1; shift
head=""
if [ $# -ge 1 ] && [ "${1#--}" = "$1" ]; then head=$1; shift; fi

root=$(git rev-parse --show-toplevel)
export PATH="$root/node_modules/.bin:$PATH"
command -v cdk >/dev/null || { echo "$0: the CDK CLI is not installed; run npm ci (make does)" >&2; exit 2; }

work=$(mktemp -d)
worktrees=()
cleanup() {
  for w in "${worktrees[@]}"; do git -C "$root" worktree remove --force "$w" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# synth DIR OUT: synthesizes the app in DIR into OUT, quietly unless it fails.
synth() {
  if ! (cd "$1" && cdk synth --quiet --output "$2" >"$work/synth.log" 2>&1); then
    cat "$work/synth.log" >&2
    echo "$0: synthesizing $3 failed" >&2
    exit 2
  fi
}

# checkout REV NAME: a detached worktree of REV.
checkout() {
  git -C "$root" rev-parse --verify --quiet "$1^{commit}" >/dev/null || { echo "$0: $1 is not a revision" >&2; exit 2; }
  git -C "$root" worktree add --quiet --detach "$work/$2" "$1"
  worktrees+=("$work/$2")
}

checkout "$base" base
synth "$work/base" "$work/base.out" "$base"
if [ -n "$head" ]; then
  checkout "$head" head
  synth "$work/head" "$work/head.out" "$head"
else
  synth "$root" "$work/head.out" "the working tree"
fi

echo '{}' >"$work/empty.json"
if [ -n "${STACK:-}" ]; then
  stacks=("$STACK")
else
  mapfile -t stacks < <(cd "$work" && ls base.out/*.template.json head.out/*.template.json 2>/dev/null |
    sed 's|.*/||; s|\.template\.json$||' | sort -u)
fi
args=()
for s in "${stacks[@]}"; do
  b="$work/base.out/$s.template.json" h="$work/head.out/$s.template.json"
  [ -f "$b" ] || [ -f "$h" ] || { echo "$0: neither revision has a stack $s" >&2; exit 2; }
  [ -f "$b" ] || b="$work/empty.json"
  [ -f "$h" ] || h="$work/empty.json"
  args+=(--stack "$s" "$b" "$h")
done
node "$root/tools/templatediff/diff.mjs" "${args[@]}" "$@"
