// Tests of pin.sh on a copy of the files it pins, with a stand-in for the
// registry (CRANE: a script that prints a digest): node --test
// tools/images/pin.test.mjs (make test runs it).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// This file's temporary folders, all in one that goes when its tests end.
const scratch = mkdtempSync(join(tmpdir(), 'pin-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const root = new URL('../../', import.meta.url).pathname;
const files = ['tools/images/pin.sh', 'backend/Dockerfile', 'backend/docker-compose.yml',
  'constructs/tracing/adot.go', 'constructs/tracing/cloudwatch.go', 'constructs/tracing/daemon.go'];

/** A copy of the files pin.sh pins. */
function project() {
  const dir = mkdtempSync(join(scratch, 'pin-'));
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    cpSync(join(root, f), join(dir, f));
  }
  return { dir, read: (f) => readFileSync(join(dir, f), 'utf8') };
}

/** Runs pin.sh in p with a registry whose answer to `crane digest REF` is the shell expression answer. */
function pin(p, answer, ...args) {
  const crane = join(p.dir, 'crane');
  writeFileSync(crane, `#!/usr/bin/env bash\n[ "$1" = digest ] || exit 2\n${answer}\n`);
  chmodSync(crane, 0o755);
  return spawnSync('bash', [join(p.dir, 'tools/images/pin.sh'), ...args], { encoding: 'utf8', env: { ...process.env, CRANE: crane } });
}

// A digest of the reference itself: each image its own.
const perImage = 'echo "sha256:$(printf %s "$2" | sha256sum | cut -c1-64)"';

test('every image is found and pinned beside its tag; --check then passes, and a second run changes nothing', () => {
  const p = project();
  assert.equal(pin(p, perImage, '--check').status, 1);
  const r = pin(p, perImage);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 5, r.stdout);
  for (const [file, ref] of [
    ['backend/Dockerfile', 'golang:1.26.8-bookworm'],
    ['backend/Dockerfile', 'gcr.io/distroless/static-debian12:nonroot'],
    ['constructs/tracing/daemon.go', 'public.ecr.aws/xray/aws-xray-daemon:3.6.6'],
    ['backend/docker-compose.yml', 'public.ecr.aws/xray/aws-xray-daemon:3.6.6'],
    ['constructs/tracing/cloudwatch.go', 'public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300072.0b1766'],
  ]) {
    assert.ok(p.read(file).includes(`${ref}@sha256:`), `${file}: ${ref} is not pinned`);
  }
  assert.match(p.read('backend/Dockerfile'), /^FROM --platform=\$BUILDPLATFORM golang:1\.26\.8-bookworm@sha256:[0-9a-f]{64} AS build$/m);
  assert.equal(pin(p, perImage, '--check').status, 0);
  assert.equal(pin(p, perImage).stdout, '');
});

test('a rebuilt tag replaces the old pin', () => {
  const p = project();
  assert.equal(pin(p, `echo sha256:${'a'.repeat(64)}`).status, 0);
  const r = pin(p, `echo sha256:${'b'.repeat(64)}`);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(p.read('constructs/tracing/adot.go'), /a{64}/);
  assert.match(p.read('constructs/tracing/adot.go'), /aws-otel-collector:v0\.49\.0@sha256:b{64}"/);
});

test('an answer that is no digest fails, naming the image, and changes nothing, even after other images resolved', () => {
  const p = project();
  const r = pin(p, `case "$2" in golang*) echo "unauthorized: authentication required" ;; *) echo sha256:${'c'.repeat(64)} ;; esac`);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /images: golang:1\.26\.8-bookworm: the registry answered unauthorized: authentication required, not a digest/);
  for (const f of files) assert.equal(p.read(f), readFileSync(join(root, f), 'utf8'), f);
});
