#!/usr/bin/env bash
# Rehearses the deploy of every stage with the real CDK CLI against moto's AWS
# emulator (moto_server) on loopback: cdk bootstrap; cdk deploy of every
# stage; cdk diff of each against what was deployed ("no differences"); each
# ECS task definition read back through the ECS API and compared with the
# template's containers; cdk destroy, and what DeletionPolicy Retain keeps
# compared with docs/diff-and-deploy.md's Destroy section. It starts and stops its own
# server, and uses no AWS credentials but moto's fake ones.
#
# Where moto_server is missing it says so and exits 0, or 1 under CI=true.
# What moto cannot prove, and its known failures: docs/diff-and-deploy.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
export PATH="$root/node_modules/.bin:$PATH"

if ! command -v moto_server >/dev/null; then
  echo "rehearse: moto_server (moto's AWS emulator) is not installed here, so the deploy was not rehearsed" >&2
  [ "${CI:-}" = "true" ] && exit 1
  exit 0
fi
start=$SECONDS
work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto=$!
cleanup() {
  kill "$moto" 2>/dev/null || true
  wait "$moto" 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

# The CLI runs in a copy of the project (tools/rehearsal/copy.sh).
name=rehearse
. tools/rehearsal/copy.sh
copy_project "$work/project"
cd "$work/project"

# Only moto: no profile, no real credentials, no other endpoint. localhost,
# not 127.0.0.1: moto reads an S3 URL on 127.0.0.1 as bucket "127".
export AWS_ENDPOINT_URL="http://localhost:$port" AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_ACCESS_KEY_ID=123456789012 AWS_SECRET_ACCESS_KEY=moto AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
unset AWS_SESSION_TOKEN AWS_PROFILE
account=123456789012 region=us-east-1
for _ in $(seq 100); do
  curl -fs "$AWS_ENDPOINT_URL/moto-api/" >/dev/null 2>&1 && break
  sleep 0.1
done


step "moto_server on 127.0.0.1:$port"
# Every stage filled in as a team fills stages.go (here with moto's
# account), in two regions, with a certificate that moto issues in
# production's region; a pinned public image, since no Docker engine
# builds the backend's here.
dev_region=us-west-2 prod_region=us-east-1
cert=$(aws acm request-certificate --region "$prod_region" --domain-name cruddur.example.com --query CertificateArn --output text)
node tools/rehearsal/fill-stages.mjs stack/stages/stages.go \
  "Development.Account=$account" "Development.Region=$dev_region" \
  "Production.Account=$account" "Production.Region=$prod_region" \
  "Production.CertificateArn=$cert" Production.AlarmEmail=oncall@example.com \
  Repository=octo-org/cruddur
gofmt -w stack/stages/stages.go
image=(-c cruddur:appImage=public.ecr.aws/docker/library/busybox:1.37.0)
quiet cdk bootstrap "aws://$account/$dev_region" "aws://$account/$prod_region"
step "cdk bootstrap: $dev_region and $prod_region"

# The synth a team runs once with credentials: the CLI looks up each
# stage's Availability Zones (here in moto) and writes cdk.context.json,
# which the team commits.
rm -f cdk.context.json
quiet cdk synth --quiet "${image[@]}"
for r in "$dev_region" "$prod_region"; do
  grep -q "\"availability-zones:account=$account:region=$r\"" cdk.context.json ||
    { echo "rehearse: the credentialed synth wrote no AZs for $r into cdk.context.json" >&2; exit 1; }
done
# Every stack: each stage's own (stacks) and its access stack (access).
mapfile -t all < <(cdk list --app cdk.out 2>/dev/null)
mapfile -t stacks < <(printf '%s\n' "${all[@]}" | grep -v -- '-Access$')
mapfile -t access < <(printf '%s\n' "${all[@]}" | grep -- '-Access$')
[ "${#access[@]}" = "${#stacks[@]}" ] || { echo "rehearse: ${#stacks[@]} stages but access stacks ${access[*]}" >&2; exit 1; }
declare -A region_of
for s in "${all[@]}"; do
  region_of[$s]=$(node -e 'const m = require("./cdk.out/manifest.json"); console.log(m.artifacts[process.argv[1]].environment.split("/").pop())' "$s")
  quiet make --no-print-directory deployable STACK="$s"
done
step "cdk synth with moto's credentials: cdk.context.json has both regions' AZs; make deployable passes ${all[*]}"

deploy() { # deploys every stack (the access stacks as an administrator would) and checks that each was created
  quiet cdk deploy --all --require-approval never --output "$work/cdk.out" "${image[@]}"
  for s in "${all[@]}"; do
    status=$(aws cloudformation describe-stacks --region "${region_of[$s]}" --stack-name "$s" --query 'Stacks[0].StackStatus' --output text)
    [ "$status" = CREATE_COMPLETE ] || { echo "rehearse: stack $s is $status" >&2; exit 1; }
  done
}
deploy
step "cdk deploy: $(for s in "${all[@]}"; do printf '%s (%s) ' "$s" "${region_of[$s]}"; done)"

# Each access stack's roles, read back through IAM: the trust GitHub's
# tokens must meet, as the template has it.
for s in "${access[@]}"; do
  export AWS_REGION="${region_of[$s]}" AWS_DEFAULT_REGION="${region_of[$s]}"
  # (moto's stacks deployed through a change set have no outputs; their
  # resources name the roles.)
  mapfile -t roles < <(aws cloudformation list-stack-resources --stack-name "$s" \
    --query "StackResourceSummaries[?ResourceType=='AWS::IAM::Role'].PhysicalResourceId" --output text | tr '\t' '\n')
  [ "${#roles[@]}" = 2 ] || { echo "rehearse: $s has roles ${roles[*]}; expected a deploy role and a diff role" >&2; exit 1; }
  for role in "${roles[@]}"; do
    aws iam get-role --role-name "$role" >"$work/$role.json"
    node tools/rehearsal/check.mjs trust "$work/cdk.out/$s.template.json" "$work/$role.json"
  done
done
step "access stacks: each role's trust, read back through IAM, is the template's (${access[*]})"

cdk diff --app "$work/cdk.out" --no-change-set "${all[@]}" >"$work/diff.log" 2>&1
grep -q 'Number of stacks with differences: 0' "$work/diff.log" || { grep -v '^!!' "$work/diff.log" >&2; echo "rehearse: cdk diff found differences against the deployed stacks" >&2; exit 1; }
step "cdk diff: no differences in ${#all[@]} stacks"
# A change diffed against what is deployed (make diff-deployed; the pull
# request's deployed diff runs the same script on its template) shows as a
# change to the deployed resource.
AWS_REGION="${region_of[${stacks[0]}]}" AWS_DEFAULT_REGION="${region_of[${stacks[0]}]}" make --no-print-directory diff-deployed STACK="${stacks[0]}" CDK_ARGS="-c cruddur:desiredCount=3 ${image[*]}" >"$work/diff.log" 2>&1 ||
  { grep -v '^!!' "$work/diff.log" >&2; echo "rehearse: make diff-deployed failed" >&2; exit 1; }
grep -A3 'MinCapacity' "$work/diff.log" | grep -q '\[+\] 3' ||
  { grep -v '^!!' "$work/diff.log" >&2; echo "rehearse: make diff-deployed did not show the scaler's new minimum (2 -> 3) against the deployed ${stacks[0]}" >&2; exit 1; }
step "make diff-deployed: a change to ${stacks[0]} shows against the deployed stack"

for s in "${stacks[@]}"; do
  export AWS_REGION="${region_of[$s]}" AWS_DEFAULT_REGION="${region_of[$s]}"
  aws cloudformation list-stack-resources --stack-name "$s" \
    --query 'StackResourceSummaries[].[LogicalResourceId,ResourceType,PhysicalResourceId]' --output text >"$work/$s.resources.tsv"
  # (moto's describe-stack-resource fails on this stack: AttributeError in
  # its describe_stack_resource; list-stack-resources works.)
  arn=$(awk -F'\t' '$2 == "AWS::ECS::TaskDefinition" { print $3 }' "$work/$s.resources.tsv")
  [ -n "$arn" ] || { echo "rehearse: stack $s has no task definition in moto" >&2; exit 1; }
  aws ecs describe-task-definition --task-definition "$arn" >"$work/$s.taskdef.json"
  node tools/rehearsal/check.mjs taskdef "$work/cdk.out/$s.template.json" "$work/$s.taskdef.json"
done
step "ECS task definitions match the templates' containers" >&2

# moto's CloudFormation does not delete NAT gateways, internet gateway
# attachments, route tables, network interfaces or flow logs (their models
# have no delete_from_cloudformation_json in moto 5.2), so the VPC's delete
# fails with "has dependencies": moto's, not the template's. Any other
# failure is ours.
restored=0
for s in "${stacks[@]}"; do
  export AWS_REGION="${region_of[$s]}" AWS_DEFAULT_REGION="${region_of[$s]}"
  if ! cdk destroy --app "$work/cdk.out" --force "$s" >"$work/destroy.log" 2>&1; then
    grep -q 'has dependencies and cannot be deleted' "$work/destroy.log" ||
      { grep -v '^!!' "$work/destroy.log" >&2; echo "rehearse: cdk destroy $s failed" >&2; exit 1; }
  fi
  while IFS=$'\t' read -r id type physical; do
    case "$type" in
      AWS::Logs::LogGroup) left=$(aws logs describe-log-groups --log-group-name-prefix "$physical" --query "length(logGroups[?logGroupName=='$physical'])" --output text) ;;
      AWS::S3::Bucket) left=$(aws s3api head-bucket --bucket "$physical" >/dev/null 2>&1 && echo 1 || echo 0) ;;
      # (moto's describe-key fails on a key CloudFormation made: its key
      # policy validator gets a dict, TypeError; list-keys works.)
      AWS::KMS::Key) left=$(aws kms list-keys --query "length(Keys[?KeyId=='$physical'])" --output text) ;;
      *) continue ;;
    esac
    echo -e "$id\t$physical\t$([ "$left" = 1 ] && echo yes || echo no)"
  done <"$work/$s.resources.tsv" >"$work/$s.left.tsv"
  node tools/rehearsal/check.mjs retained "$work/cdk.out/$s.template.json" "$work/$s.left.tsv" docs/diff-and-deploy.md >"$work/$s.restore.tsv"
  # What AWS keeps and moto deleted, put back under the same names, so the
  # deploy after the destroy meets what it would meet in AWS. (A key has no
  # name to collide with.)
  while IFS=$'\t' read -r type physical; do
    case "$type" in
      AWS::Logs::LogGroup) aws logs create-log-group --log-group-name "$physical" ;;
      AWS::S3::Bucket) aws s3api create-bucket --bucket "$physical" $([ "$AWS_REGION" = us-east-1 ] || echo --create-bucket-configuration "LocationConstraint=$AWS_REGION") >/dev/null ;;
    esac
  done <"$work/$s.restore.tsv"
  restored=$((restored + $(grep -c . "$work/$s.restore.tsv" || true)))
done
# The access stacks last, each after the ones that take its provider.
for ((i = ${#access[@]} - 1; i >= 0; i--)); do
  export AWS_REGION="${region_of[${access[i]}]}" AWS_DEFAULT_REGION="${region_of[${access[i]}]}"
  quiet cdk destroy --app "$work/cdk.out" --force "${access[i]}"
done
step "cdk destroy: what is kept is kept, as docs/diff-and-deploy.md says (the VPC's delete fails on moto's side; $restored RetainExceptOnCreate resources that moto deleted put back)"

# A second deploy after the destroy: nothing the first kept (a fixed name)
# stands in its way.
deploy
step "cdk deploy after the destroy: ${all[*]} created again"
step "passed"
