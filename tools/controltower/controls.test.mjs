// AWS Control Tower's proactive controls, run with cfn-guard as
// @cdklabs/cdk-validator-cfnguard ships both, on the golden templates (the Go
// tests prove each equals its synth). Run by make test:
// node --test tools/controltower/controls.test.mjs
//
// Every stage passes the ECS controls (CT.ECS.PR.1 to 12: non-root users,
// read-only root filesystems, logging, memory limits, no AWS keys in the
// environment, ...). Production passes every family, and the access stacks
// too, but for the exemptions
// a resource carries in its own metadata, {"guard": {"SuppressedRules":
// [...], "Reason": "..."}}: the convention of cfn-guard's rules registry.
// Control Tower's rules do not read it themselves (cdklabs/
// cdk-validator-cfnguard#202), so this test applies it to their findings.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { arch, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

// This file's temporary folders, all in one that goes when its tests end.
const scratch = mkdtempSync(join(tmpdir(), 'controls-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const pkg = join(createRequire(import.meta.url).resolve('@cdklabs/cdk-validator-cfnguard/package.json'), '..');
const binary = join(pkg, 'bin', { linux: 'ubuntu', darwin: 'macos' }[platform()], { x64: 'x86_64', arm64: 'aarch64' }[arch()], 'cfn-guard');
const allRules = join(pkg, 'rules', 'control-tower', 'cfn-guard');
const testdata = new URL('../../testdata/', import.meta.url);
const golden = (file) => readFileSync(new URL(file, testdata), 'utf8');
// Every golden the Go tests keep (each stage's stack and access stack,
// production with each collector): a stage added in stages.go is checked
// here once make golden has written its templates.
const goldens = readdirSync(testdata).filter((f) => f.endsWith('.template.json')).sort();
const accessStacks = goldens.filter((f) => f.endsWith('-Access.template.json'));
const appStacks = goldens.filter((f) => !accessStacks.includes(f));

/** Runs cfn-guard; returns its exit code and, per failed rule, the logical ids it names. */
function guard(text, rules) {
  const path = join(mkdtempSync(join(scratch, 'guard-')), 'template.json');
  writeFileSync(path, text);
  const r = spawnSync(binary, ['validate', '--rules', rules, '--data', path, '--structured', '--output-format', 'json', '--show-summary', 'none'],
    { encoding: 'utf8', timeout: 120_000, maxBuffer: 256 << 20 });
  if (r.error) throw r.error;
  const failures = new Map(); // rule name -> Set of logical ids
  for (const file of JSON.parse(r.stdout)) {
    for (const entry of file.not_compliant) {
      const ids = new Set();
      JSON.stringify(entry, (key, value) => {
        const m = key === 'path' && typeof value === 'string' && value.match(/^\/Resources\/([^/]+)/);
        if (m) ids.add(m[1]);
        return value;
      });
      failures.set(entry.Rule.name, ids);
    }
  }
  return { code: r.status, failures };
}

/** The failures no exemption in the template covers, as "rule on resource". */
function unexempted(text, failures) {
  const resources = JSON.parse(text).Resources;
  const left = [];
  for (const [rule, ids] of failures) {
    for (const id of ids.size ? ids : ['(the template)']) {
      const g = resources[id]?.Metadata?.guard;
      if (!(g?.SuppressedRules?.includes(rule) && g.Reason?.length > 20)) left.push(`${rule} on ${id}`);
    }
  }
  return left;
}

// The ECS family: every golden passes, but for one exemption, on a task
// that runs the CloudWatch agent (whichever golden has one): the agent runs
// as uid 0 (without capabilities), since Fargate's empty task volumes are
// root's (docs/operations.md).
function ecsExemptions(text) {
  return Object.entries(JSON.parse(text).Resources)
    .filter(([, r]) => r.Type === 'AWS::ECS::TaskDefinition' && r.Properties.ContainerDefinitions.some((c) => c.Name === 'cloudwatch-agent'))
    .map(([id]) => `ecs_task_definition_nonroot_user_check: ${id}`)
    .sort();
}
test('the goldens are here: an app stack and an access stack per stage', () => {
  assert.ok(appStacks.length >= 2 && accessStacks.length >= 2, `goldens ${goldens}`);
});

for (const file of appStacks) {
  test(`${file} passes every ECS control`, () => {
    const text = golden(file);
    const r = guard(text, join(allRules, 'ecs'));
    assert.deepEqual(unexempted(text, r.failures), []);
    const exempted = [...r.failures].flatMap(([rule, ids]) => [...ids].map((id) => `${rule}: ${id}`)).sort();
    assert.deepEqual(exempted, ecsExemptions(text));
  });
}

// The access stacks (stack/access.go): IAM roles and GitHub's provider,
// with no exemption at all.
for (const file of accessStacks) {
  test(`${file} passes every control of every family`, () => {
    const r = guard(golden(file), allRules);
    assert.deepEqual([...r.failures.keys()], []);
    assert.equal(r.code, 0);
  });
}

test('production (stack Cruddur) passes every control of every family, but for its exemptions', () => {
  const text = golden('Cruddur.template.json');
  const r = guard(text, allRules);
  assert.deepEqual(unexempted(text, r.failures), []);
  // What it is exempted from, each on one resource (docs/guardrails.md):
  // the VPC's one custom resource, and each service's access-log bucket.
  const exempted = [...r.failures].flatMap(([rule, ids]) => [...ids].map((id) => `${rule}: ${id}`)).sort();
  const accessLogs = Object.entries(JSON.parse(text).Resources)
    .filter(([, res]) => res.Type === 'AWS::S3::Bucket' && res.Metadata['aws:cdk:path'].endsWith('/AccessLogs/Resource'))
    .map(([id]) => id);
  assert.ok(accessLogs.length >= 1, 'no access-log bucket');
  assert.deepEqual(exempted, [
    ...ecsExemptions(text),
    'lambda_inside_vpc_check: CustomVpcRestrictDefaultSGCustomResourceProviderHandlerDC833E5E',
    ...accessLogs.flatMap((id) => ['s3_bucket_default_encryption_kms_check', 's3_bucket_logging_enabled_check',
      's3_bucket_object_lock_enabled_check', 's3_event_notifications_enabled_check'].map((rule) => `${rule}: ${id}`)),
  ].sort());
});

test('the checks are not blind', () => {
  // A privileged container with a writable root filesystem fails ECS's.
  const text = golden('Cruddur-Dev.template.json');
  const bad = text.replace('"ReadonlyRootFilesystem": true', '"Privileged": true');
  assert.notEqual(bad, text);
  assert.notEqual(guard(bad, join(allRules, 'ecs')).code, 0);
  // Production without its exemptions' metadata fails.
  const prod = JSON.parse(golden('Cruddur.template.json'));
  for (const r of Object.values(prod.Resources)) delete r.Metadata?.guard;
  const stripped = JSON.stringify(prod);
  assert.notDeepEqual(unexempted(stripped, guard(stripped, allRules).failures), []);
});
