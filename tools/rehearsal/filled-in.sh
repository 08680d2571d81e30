#!/usr/bin/env bash
# The checks a team's pull request runs once the stages are filled in, with
# no AWS credentials: in a copy of the project, every stage filled in as a
# team fills it (stages.go: accounts, regions, a certificate, e-mails) and
# cdk.context.json as the CLI's lookups write it for those environments
# (the team commits it); then `make golden`, and on what that wrote: the
# root module's Go tests (goldens, validator, cdk-nag, the deploy check),
# the tools' tests with cfn-lint on every golden, the CLI's synth of every
# stage against its golden, and `make deployable` for every stage.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$SECONDS
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
name=filled-in
. tools/rehearsal/copy.sh
copy_project "$work/project"
cd "$work/project"
export PATH="$PWD/node_modules/.bin:$PWD/.venv/bin:$PATH"

# No credentials of any kind: a synth that needed a lookup would fail.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_REGION AWS_DEFAULT_REGION
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true

# Two accounts and regions, a certificate in production's, as a team would.
dev_account=111122223333 dev_region=eu-west-1
prod_account=444455556666 prod_region=us-east-1
node tools/rehearsal/fill-stages.mjs stack/stages/stages.go \
  "Development.Account=$dev_account" "Development.Region=$dev_region" \
  "Production.Account=$prod_account" "Production.Region=$prod_region" \
  "Production.CertificateArn=arn:aws:acm:$prod_region:$prod_account:certificate/0d5f8a47-8c44-4c7e-9f0e-2b8a3f7a1c55" \
  Production.AlarmEmail=oncall@example.com Repository=octo-org/cruddur
gofmt -w stack/stages/stages.go
# What `cdk synth` with credentials writes: each environment's AZs.
cat >cdk.context.json <<JSON
{
  "availability-zones:account=$dev_account:region=$dev_region": ["${dev_region}a", "${dev_region}b", "${dev_region}c"],
  "availability-zones:account=$prod_account:region=$prod_region": ["${prod_region}a", "${prod_region}b", "${prod_region}c", "${prod_region}d", "${prod_region}e", "${prod_region}f"]
}
JSON
step "stages filled in: development $dev_account $dev_region, production $prod_account $prod_region"

quiet make --no-print-directory golden
grep -q "\"${prod_region}a\"" testdata/Cruddur.template.json || { echo "filled-in: the production golden names no looked-up AZ" >&2; exit 1; }
grep -q '"Fn::GetAZs"' testdata/Cruddur.template.json && { echo "filled-in: the production golden still asks Fn::GetAZs" >&2; exit 1; }
step "make golden: the goldens name the stages' environments and AZs"
for check in test-root test-tools test-synth; do
  CI=true quiet make --no-print-directory "$check"
  step "make $check: passed"
done
mapfile -t stacks < <(cdk list --app cdk.out 2>/dev/null)
[ "${#stacks[@]}" -gt 1 ] || { echo "filled-in: cdk list found ${#stacks[@]} stacks" >&2; exit 1; }
for stack in "${stacks[@]}"; do
  quiet make --no-print-directory deployable STACK="$stack"
done
step "make deployable: ${stacks[*]}"
step "passed"
