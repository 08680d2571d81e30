#!/usr/bin/env bash
# Adopts the seed's hand-made X-Ray group and sampling rule into a stage's
# stack with `cdk import`, instead of deleting them (and their history) or
# failing the first deploy on "already exists":
#
#   tools/importseed/import.sh STACK [GROUP_NAME] [RULE_NAME]
#
# Defaults: the group and rule the seed created, both named Cruddur, which
# the production stack (Cruddur) keeps. Needs the stack's AWS credentials.
# Run it before the stack's first deploy; then `make deploy STACK=...` adds
# everything else. docs/operations.md says more.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/node_modules/.bin:$PATH"
stack=${1:?usage: $0 STACK [GROUP_NAME] [RULE_NAME]}
group=${2:-Cruddur} rule=${3:-Cruddur}

cdk synth --quiet "$stack" >/dev/null
group_arn=$(aws xray get-group --group-name "$group" --query Group.GroupARN --output text)
rule_arn=$(aws xray get-sampling-rules --query "SamplingRuleRecords[?SamplingRule.RuleName=='$rule'].SamplingRule.RuleARN | [0]" --output text)
[ -n "$rule_arn" ] && [ "$rule_arn" != None ] || { echo "$0: no sampling rule named $rule in this account and region" >&2; exit 1; }
node tools/importseed/mapping.mjs "cdk.out/$stack.template.json" --group "$group=$group_arn" --rule "$rule=$rule_arn" >cdk.out/import-seed.json
cat cdk.out/import-seed.json
cdk import "$stack" --resource-mapping cdk.out/import-seed.json
