# The two commands a new user needs are `make synth` and `make test`; both
# install the pinned CDK CLI and Node from package-lock.json first.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# Each stage is a stack (stack/stages/stages.go); STACK names one for deploy
# and destroy, and limits diff and diff-golden to it.
STACK ?=

# The project's Node (npm package `node`, v24) and CDK CLI come first, so
# neither the CLI nor jsii runs on the machine's Node 20; then the pinned
# Python tools (tools/python: cfn-lint, moto's server, the AWS CLI).
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/.venv/bin:$(PATH)

BASE ?= origin/main
HEAD ?=

.PHONY: pin-images mutants synth test golden diff-golden diff diff-deployed deployable deploy destroy bench bench-backend bench-load fuzz python-tools

# NPM_CI_FLAGS adds options to npm ci. The pull-request job passes
# --ignore-scripts: then the npm package node installs no binary, and the
# Node on PATH (setup-node's, the same v24) runs the CLI and jsii.
NPM_CI_FLAGS ?=
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error $(NPM_CI_FLAGS)
	touch $@

## python-tools: the pinned cfn-lint, moto server and AWS CLI (tools/python/requirements.txt) in
##               .venv: the machine's own where it has those versions, else from PyPI
python-tools: .venv/.installed
.venv/.installed: tools/python/requirements.txt tools/python/install.sh
	tools/python/install.sh
	touch $@

## synth: synthesize every stage to cdk.out/<stack>.template.json with the real CDK CLI;
##        CDK_ARGS adds options, such as CDK_ARGS='-c cruddur:collector=adot'. A failed synth
##        (bad input, a validator or cdk-nag finding) leaves no assembly in cdk.out to mistake
##        for good: the app itself keeps it out (cruddur.go), under a plain cdk synth too.
CDK_ARGS ?=
synth: node_modules/.installed
	cdk synth --quiet $(CDK_ARGS)
	@echo "synthesized $$(ls cdk.out/*.template.json | tr '\n' ' ')"

## CloudFormation's own linter on every golden: no errors, and no warning but these, each
## explained in docs/guardrails.md: W3005 (aws-cdk-lib's ecs-patterns and custom-resource
## provider write a DependsOn their Ref already implies), W8003 (StageIsFilledIn's assertion
## is false on purpose while a stage is not filled in), W3010 (a stage pinned to its account
## and region names the Availability Zones the CDK looked up, kept in cdk.context.json).
CFN_LINT := cfn-lint --ignore-checks W3005 W8003 W3010 --
## test: every check, side by side (make -j; each check's output shown whole when it ends):
##       gofmt, go vet and actionlint; every Go test of both modules; the tools' Node tests
##       (template diff, Control Tower controls, seed import) and cfn-lint on every golden; the
##       CLI's synth of every stage equal to its golden; the same on a copy with the stages filled
##       in (tools/rehearsal/filled-in.sh); and the deploy rehearsal, in a copy of the project so
##       nothing collides. The rehearsal is the longest: the checks that only burn CPU
##       run at a lower priority (nice), the backend's tests, which time things, do not.
test: node_modules/.installed .venv/.installed
	@# Both modules compiled once first: on a cold build cache, the checks
	@# side by side would each compile aws-cdk-go at the same time.
	go build ./... && cd backend && go build ./...
	@$(MAKE) --no-print-directory -j7 --output-sync=target test-rehearsal test-filled-in test-root test-backend test-synth test-tools test-lint

NICE := nice -n 10
.PHONY: test-lint test-root test-backend test-tools test-synth test-rehearsal test-filled-in
test-lint:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(NICE) go vet ./...
	cd backend && $(NICE) go vet ./...
	go tool actionlint
test-root:
	$(NICE) go test ./...
test-backend:
	cd backend && go test ./...
test-tools:
	node --test tools/templatediff/diff.test.mjs tools/templatediff/comment.test.mjs tools/controltower/controls.test.mjs tools/importseed/mapping.test.mjs tools/images/pin.test.mjs tools/mutants/mutants.test.mjs
	$(NICE) $(CFN_LINT) testdata/*.template.json
test-synth: node_modules/.installed
	@$(NICE) $(MAKE) --no-print-directory synth
	cdk list --app cdk.out | sort | diff - <(ls cdk.out/*.template.json | sed 's|cdk.out/||; s|.template.json||' | sort)
	for t in cdk.out/*.template.json; do \
	  cmp "$$t" "testdata/$${t#cdk.out/}" || { echo "cdk synth's $$t differs from testdata/: see make diff-golden"; exit 1; }; \
	done
test-rehearsal: node_modules/.installed .venv/.installed
	tools/rehearsal/rehearse.sh
# The same checks on a copy with the stages filled in, without credentials.
test-filled-in: node_modules/.installed .venv/.installed
	$(NICE) tools/rehearsal/filled-in.sh

## diff: every stage's template diff between git revisions BASE and HEAD (default: the working
##       tree), offline, or STACK=... only; exits 3 when a guarded resource would be replaced or
##       deleted, unless ALLOW_DESTRUCTIVE=1
diff: node_modules/.installed
	STACK="$(STACK)" tools/templatediff/revisions.sh $(BASE) $(HEAD)

# NEED_STACK stops a target that acts on one stack, before it does anything,
# when STACK names none.
NEED_STACK = @[ -n "$(STACK)" ] || { echo "make: name the stack: STACK=Cruddur-Dev or STACK=Cruddur (or a stage's -Access stack)"; exit 2; }

## deployable: refuse, in one line, a stage whose team-only values (stack/stages/stages.go) are
##             not filled in; needs no AWS credentials
deployable:
	$(NEED_STACK)
	go build -o .cdk-app/cruddur . && .cdk-app/cruddur deployable "$(STACK)"

## deploy: cdk deploy of one stage, STACK=..., with the credentials of the environment (the deploy
##         workflow's OIDC role), after the deployable check
deploy: node_modules/.installed deployable
	cdk deploy "$(STACK)" --require-approval never

## destroy: cdk destroy of one stage, STACK=...; what it keeps (log groups, the bucket, the key) is in docs/diff-and-deploy.md
destroy: node_modules/.installed
	$(NEED_STACK)
	cdk destroy "$(STACK)"

## golden: deliberately rewrite the golden templates (and the backend's fixtures of them) from a fresh
##         synth, removing any that no synth writes any more
golden: node_modules/.installed
	go test . -run '^TestGolden$$' -update -v
	cd backend && go test . -run '^TestTheFixturesAreTheGoldensTasks$$' -update-fixtures

## diff-golden: show, with the CLI's own diff, how a fresh synth of each stage (or STACK) differs
##              from its golden template
diff-golden: synth
	for s in $${STACK:-$$(cdk list)}; do cdk diff --template "testdata/$$s.template.json" "$$s"; done

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

## fuzz: each fuzz target for FUZZTIME (default 30s): the rule-file reader and the trace-header
##       parser, the two parsers that take outside input (their seeds run in make test)
FUZZTIME ?= 30s
fuzz:
	go test ./constructs/xray -run '^$$' -fuzz '^FuzzParseSamplingRule$$' -fuzztime $(FUZZTIME)
	cd backend && go test ./internal/edge -run '^$$' -fuzz '^FuzzParseTraceHeader$$' -fuzztime $(FUZZTIME)

## mutants: the mutation sweep (tools/mutants): each of tools/mutants/mutants.json's mutants
##          breaks one behaviour, and the tests must fail; lists any that survive (about 25
##          minutes; MUTANTS=3,17 runs those alone); .github/workflows/mutants.yml runs it weekly
mutants: node_modules/.installed
	node tools/mutants/mutants.mjs

## diff-deployed: one stage, STACK=..., synthesized and diffed against the stack as deployed
##                (tools/templatediff/deployed.sh: a read-only get-template with the credentials
##                of the environment, then the offline diff and its guard)
diff-deployed: node_modules/.installed
	$(NEED_STACK)
	@$(MAKE) --no-print-directory synth
	tools/templatediff/deployed.sh "$(STACK)" "cdk.out/$(STACK).template.json"

## pin-images: resolve each image's tag (the backend's base images, the sidecars' defaults, the
##             compose file's daemon) to its digest now and pin it beside the tag
##             (tools/images/pin.sh; needs the registries); then make golden
pin-images:
	tools/images/pin.sh
