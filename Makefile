# The two commands a new user needs are `make synth` and `make test`; both
# install the pinned CDK CLI and Node from package-lock.json first.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
STACK := Cruddur
GOLDEN := testdata/$(STACK).template.json

# The project's Node (npm package `node`, v24) and CDK CLI come first, so
# neither the CLI nor jsii runs on the machine's Node 20.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

BASE ?= origin/main
HEAD ?=

.PHONY: synth test golden diff-golden diff deploy destroy bench bench-backend bench-load

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## synth: synthesize the stack to cdk.out/$(STACK).template.json with the real CDK CLI;
##        CDK_ARGS adds options, such as CDK_ARGS='-c cruddur:collector=adot'. A failed synth
##        (bad input, a validator or cdk-nag finding) leaves no cdk.out to mistake for good.
CDK_ARGS ?=
synth: node_modules/.installed
	cdk synth --quiet $(CDK_ARGS) || { rm -rf cdk.out; exit 1; }
	@echo "synthesized cdk.out/$(STACK).template.json"

## test: format check, vet, actionlint, every Go test of both modules, the tools' Node tests
##       (template diff, Control Tower controls), and the CLI's synth equal to the golden template
test: node_modules/.installed
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	go vet ./...
	go tool actionlint
	go test ./...
	cd backend && go vet ./... && go test ./...
	node --test tools/templatediff/diff.test.mjs tools/controltower/controls.test.mjs
	$(MAKE) --no-print-directory synth
	cmp cdk.out/$(STACK).template.json $(GOLDEN) || \
	  { echo "cdk synth differs from $(GOLDEN): see make diff-golden"; exit 1; }

## diff: the template diff between git revisions BASE and HEAD (default: the working tree), offline;
##       exits 3 when a guarded resource would be replaced or deleted, unless ALLOW_DESTRUCTIVE=1
diff: node_modules/.installed
	tools/templatediff/revisions.sh $(BASE) $(HEAD)

## deploy: cdk deploy with the credentials of the environment (the deploy workflow's OIDC role)
deploy: node_modules/.installed
	cdk deploy $(STACK) --require-approval never

## destroy: cdk destroy; what it keeps (log groups, the access-log bucket) is in README.md
destroy: node_modules/.installed
	cdk destroy $(STACK)

## golden: deliberately rewrite the golden template from a fresh synth
golden: node_modules/.installed
	go test . -run '^TestGolden$$' -update -v

## diff-golden: show, with the CLI's own diff, how a fresh synth differs from the golden template
diff-golden: synth
	cdk diff --template $(GOLDEN) $(STACK)

## bench: synth and test times against the plain-JavaScript floor (bench/run.sh; BENCH_REPS=5)
bench: node_modules/.installed
	bench/run.sh

## bench-backend: the tracing middleware's per-request cost against the same handler untraced
bench-backend:
	cd backend && go test -run '^$$' -bench HomeActivities -benchmem -count 5 .

## bench-load: the backend binary under hey's load on loopback, untraced against every tracing
##             mode at the seed's rule (backend/loadbench; ROUNDS=5, DURATION=5s; more flags
##             in LOADBENCH_ARGS, e.g. LOADBENCH_ARGS='-pin -modes xray')
ROUNDS ?= 5
DURATION ?= 5s
LOADBENCH_ARGS ?=
bench-load:
	cd backend && go run ./loadbench -rounds $(ROUNDS) -duration $(DURATION) $(LOADBENCH_ARGS)
