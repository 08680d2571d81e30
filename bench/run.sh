#!/usr/bin/env bash
# The speed bench (make bench): in one run, in BENCH_REPS rounds (default 5,
# after a warm-up round; each command once a round, Go and JavaScript
# alternating), min/median/max of
#   - the Go app's synth, aws-cdk-lib's validator on and off;
#   - the same stack in plain JavaScript (bench/js, the floor), on and off;
#   - a Go program that only starts jsii and creates an App, and Node alone;
#   - warm `go test -count=1 ./...` of the root module and of the backend's;
#   - synths of N = 1, 10, 50 traced services in one stack, Go and JS;
# then the ratios issue #8 sets targets for, and the peak memory of each synth
# (the whole process tree: Go, the jsii wrapper and Node together), sampled in
# one more run that is not timed.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${BENCH_REPS:-5}
test_reps=${BENCH_TEST_REPS:-3}
export PATH="$PWD/node_modules/.bin:$PATH"

[ -f node_modules/.installed ] || make node_modules/.installed >/dev/null
(cd bench/js && [ -d node_modules/aws-cdk-lib ] || npm ci --no-audit --no-fund --loglevel=error)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/measure" ./bench/measure
go build -o "$tmp/cruddur" .
go build -o "$tmp/jsiistart" ./bench/jsiistart
go build -o "$tmp/scale" ./bench/scale

# The context `cdk synth` would pass: cdk.json's, plus the CLI's own keys.
ctx=$(node -e '
  const c = require("./cdk.json").context;
  Object.assign(c, {"aws:cdk:enable-path-metadata": true, "aws:cdk:enable-asset-metadata": true,
    "aws:cdk:version-reporting": false, "aws:cdk:bundling-stacks": ["**"]});
  process.stdout.write(JSON.stringify(c));')

echo "bench: $reps rounds after one warm-up round ($test_reps for go test), each command once a round; $(nproc) cores; $(go version | cut -d" " -f3), node $(node --version)"

# The plan: each command with its environment. Go and JavaScript alternate,
# so a slow spell of the machine falls on both (see bench/measure).
# 50 services are about 870 resources: past CloudFormation's 500 a stack, which
# aws-cdk-lib checks at synth. The bench measures synthesis, so the check is off.
CTX="$ctx" TMP="$tmp" TEST_REPS="$test_reps" node -e '
  const { CTX: ctx, TMP: tmp, TEST_REPS: testReps } = process.env;
  const app = { CDK_CONTEXT_JSON: ctx, CDK_OUTDIR: `${tmp}/out` };
  const off = { ...app, CDK_VALIDATION: "false" };
  const plan = [
    { label: "go synth, validator on", argv: [`${tmp}/cruddur`], env: app, peak: true },
    { label: "js synth, validator on", argv: ["node", "bench/js/app.js"], env: app, peak: true },
    { label: "go synth, validator off", argv: [`${tmp}/cruddur`], env: off, peak: true },
    { label: "js synth, validator off", argv: ["node", "bench/js/app.js"], env: off, peak: true },
    { label: "go: start jsii, create an App", argv: [`${tmp}/jsiistart`] },
    { label: "node: start", argv: ["node", "-e", "0"] },
    { label: "go test -count=1 ./... (warm)", argv: ["go", "test", "-count=1", "./..."], runs: +testReps },
    // A floor under it: the synths each TestMain shares (the root: every app and stage,
    // validated, with cdk-nag; the stack package: its variants), and no test run. It
    // leaves out the jsii start of the construct packages, made by their first test (~2.4 s each).
    { label: "go test -count=1 -run ^$ ./... (the floor)", argv: ["go", "test", "-count=1", "-run", "^$", "./..."], runs: +testReps },
    { label: "backend: go test -count=1 ./... (warm)", argv: ["sh", "-c", "cd backend && go test -count=1 ./..."], runs: +testReps },
  ];
  for (const n of [1, 10, 50]) {
    const env = { CDK_OUTDIR: `${tmp}/scale-out`, CDK_VALIDATION: "false",
      CDK_CONTEXT_JSON: JSON.stringify({ "@aws-cdk/core:stackResourceLimit": 0 }), BENCH_SERVICES: String(n) };
    plan.push({ label: `go scale N=${n}, validator off`, argv: [`${tmp}/scale`], env });
    plan.push({ label: `js scale N=${n}, validator off`, argv: ["node", "bench/js/app.js"], env });
  }
  require("fs").writeFileSync(`${tmp}/plan.json`, JSON.stringify(plan));'

results="$tmp/results.jsonl"
"$tmp/measure" -n "$reps" "$tmp/plan.json" >"$results" 2>"$tmp/measure.log" \
  || { echo "bench: a command failed:" >&2; tail -n 20 "$tmp/measure.log" >&2; exit 1; }
node -e '
  for (const line of require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n")) {
    const r = JSON.parse(line);
    const peak = r.peak_rss_mib ? `  peak ${Math.round(r.peak_rss_mib)} MiB` : "";
    console.log(`${r.label.padEnd(46)} min ${r.min_s.toFixed(2)} s  median ${r.median_s.toFixed(2)} s  max ${r.max_s.toFixed(2)} s${peak}`);
  }' "$results"

# The backend's longest test, from one run's -json (its Elapsed).
longest=$(cd backend && go test -count=1 -json . 2>/dev/null | node -e '
  let max = 0;
  for (const l of require("fs").readFileSync(0, "utf8").split("\n")) {
    if (!l) continue;
    const e = JSON.parse(l);
    if (e.Test && !e.Test.includes("/") && e.Action === "pass") max = Math.max(max, e.Elapsed);
  }
  process.stdout.write(String(max));')

LONGEST_S="$longest" node - "$results" <<'JS'
const rows = require('fs').readFileSync(process.argv[2], 'utf8').trim().split('\n').map(JSON.parse);
const med = (label) => rows.find((r) => r.label === label).median_s;
const peak = (label) => rows.find((r) => r.label === label).peak_rss_mib;
const perService = (lang) => (med(`${lang} scale N=50, validator off`) - med(`${lang} scale N=1, validator off`)) / 49 * 1000;
const goOn = med('go synth, validator on'), jsOn = med('js synth, validator on');
const fixed = med('go: start jsii, create an App') - med('node: start');
const out = [
  ['go synth / js synth (validator on)', goOn / jsOn, 'target <= 1.15'],
  ['go synth minus the jsii start-up / js synth (validator on)', (goOn - fixed) / jsOn, 'what is left above the fixed cost'],
  ['go synth / js synth (validator off)', med('go synth, validator off') / med('js synth, validator off'), ''],
  ['warm go test / one validated go synth', med('go test -count=1 ./... (warm)') / goOn, 'target <= 2.0 (issue 25)'],
  ['  its floor (shared synths, no test; a lower bound) / one synth', med('go test -count=1 -run ^$ ./... (the floor)') / goOn, 'what no test can go under'],
  ['backend go test / its longest test', med('backend: go test -count=1 ./... (warm)') / +process.env.LONGEST_S, `target <= 1.3; longest ${(+process.env.LONGEST_S).toFixed(2)} s`],
  ['ms per added traced service, go', perService('go'), ''],
  ['ms per added traced service, js', perService('js'), ''],
  ['marginal cost go / js', perService('go') / perService('js'), 'target <= 1.5'],
  ['peak memory, go synth with validator (MiB)', peak('go synth, validator on'), 'Go + jsii wrapper + Node'],
  ['peak memory, js synth with validator (MiB)', peak('js synth, validator on'), ''],
];
console.log('\nratios (medians)');
for (const [name, v, note] of out) console.log(`  ${name.padEnd(60)} ${v.toFixed(2).padStart(8)}  ${note}`);
JS

# make test end to end on this warm tree, once (it takes minutes).
start=$(date +%s.%N)
make --no-print-directory test >"$tmp/make-test.log" 2>&1 || { echo "bench: make test failed:" >&2; tail -n 20 "$tmp/make-test.log" >&2; exit 1; }
echo "  make test, end to end on the warm tree (once)                  $(node -e "console.log(($(date +%s.%N) - $start).toFixed(1))") s  target <= 40 (issue 25)"
