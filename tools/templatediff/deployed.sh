#!/usr/bin/env bash
# Diffs a synthesized template against its stack as deployed: the deployed
# template is read with `aws cloudformation get-template` (a read-only call:
# the pull request's diff role, or your own credentials), then diff.mjs
# compares them as it compares two revisions, with its guard.
#
#   tools/templatediff/deployed.sh STACK TEMPLATE [diff.mjs options]
#
# A stack that does not exist yet is diffed against an empty template. Exits
# as diff.mjs does (3: the guard tripped), or 1 when the stack cannot be read.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: tools/templatediff/deployed.sh STACK TEMPLATE [diff.mjs options]" >&2; exit 2; }
stack=$1 template=$2
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
deployed=$(mktemp)
trap 'rm -f "$deployed" "$deployed.err"' EXIT
if ! aws cloudformation get-template --stack-name "$stack" --template-stage Original --query TemplateBody --output json >"$deployed" 2>"$deployed.err"; then
  if grep -q 'does not exist' "$deployed.err"; then
    echo "deployed: stack $stack is not deployed; diffing against an empty template"
    echo '{}' >"$deployed"
  else
    cat "$deployed.err" >&2
    echo "deployed: could not read the deployed template of $stack (credentials, region, or the role's cloudformation:GetTemplate)" >&2
    exit 1
  fi
fi
node "$root/tools/templatediff/diff.mjs" --stack "$stack (deployed -> this change)" "$deployed" "$template" "$@"
