// AWS Control Tower's proactive controls for ECS (CT.ECS.PR.1 to 12: non-root
// users, read-only root filesystems, no privileged containers, logging,
// memory limits, no AWS keys in the environment, awsvpc, ...) run with
// cfn-guard, as @cdklabs/cdk-validator-cfnguard ships both, on the golden
// templates (the Go tests prove each equals its synth). Run by make test:
// node --test tools/controltower/controls.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { arch, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const pkg = join(createRequire(import.meta.url).resolve('@cdklabs/cdk-validator-cfnguard/package.json'), '..');
const binary = join(pkg, 'bin', { linux: 'ubuntu', darwin: 'macos' }[platform()], { x64: 'x86_64', arm64: 'aarch64' }[arch()], 'cfn-guard');
const rules = join(pkg, 'rules', 'control-tower', 'cfn-guard', 'ecs');
const testdata = new URL('../../testdata/', import.meta.url);

/** cfn-guard's exit code and output for a template's text. */
function guard(text) {
  const path = join(mkdtempSync(join(tmpdir(), 'guard-')), 'template.json');
  writeFileSync(path, text);
  const r = spawnSync(binary, ['validate', '--rules', rules, '--data', path, '--show-summary', 'fail'], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status, out: r.stdout + r.stderr };
}

for (const file of ['Cruddur.template.json', 'Cruddur-adot.template.json']) {
  test(`${file} passes every ECS control`, () => {
    const r = guard(readFileSync(new URL(file, testdata), 'utf8'));
    assert.equal(r.code, 0, r.out);
  });
}

test('the check is not blind: a privileged container with a writable root filesystem fails it', () => {
  const text = readFileSync(new URL('Cruddur.template.json', testdata), 'utf8');
  const bad = text.replace('"ReadonlyRootFilesystem": true', '"Privileged": true');
  assert.notEqual(bad, text);
  assert.notEqual(guard(bad).code, 0);
});
