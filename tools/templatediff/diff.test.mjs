// Tests of diff.mjs with Node's own test runner: node --test tools/templatediff
// (make test runs it). Templates are small ones made here, and the stack's
// golden template.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GUARDED_TYPES, cli, report } from './diff.mjs';

const golden = JSON.parse(readFileSync(new URL('../../testdata/Cruddur.template.json', import.meta.url), 'utf8'));

/** A template of one resource of the given type. */
const one = (logicalId, type, props = {}) => ({ Resources: { [logicalId]: { Type: type, Properties: props } } });

/** Writes templates to a temporary folder and returns their paths. */
function files(...templates) {
  const dir = mkdtempSync(join(tmpdir(), 'templatediff-'));
  return templates.map((t, i) => {
    const path = join(dir, `t${i}.json`);
    writeFileSync(path, JSON.stringify(t));
    return path;
  });
}

test('identical templates: no differences, exit 0', () => {
  const r = report(golden, golden);
  assert.equal(r.code, 0);
  assert.match(r.text, /There were no differences\./);
});

test('a changed FixedRate is shown and allowed', () => {
  const head = structuredClone(golden);
  const [id] = Object.entries(head.Resources).find(([, r]) => r.Type === 'AWS::XRay::SamplingRule');
  head.Resources[id].Properties.SamplingRule.FixedRate = 0.25;
  const r = report(golden, head);
  assert.equal(r.code, 0);
  for (const want of [`[~] AWS::XRay::SamplingRule ${id}`, '.FixedRate:', '[-] 0.1', '[+] 0.25', 'Resources changed: 1']) {
    assert.ok(r.text.includes(want), `the diff lacks ${want}:\n${r.text}`);
  }
});

for (const type of GUARDED_TYPES) {
  test(`${type}: deleting it trips the guard`, () => {
    const r = report(one('Old', type), { Resources: {} });
    assert.equal(r.code, 3);
    assert.match(r.text, new RegExp(`${type} Old would be deleted`));
  });

  test(`${type}: a new logical id is reported as a replacement, not a delete and an add`, () => {
    const r = report(one('Old', type), one('New', type));
    assert.equal(r.code, 3);
    assert.ok(r.text.includes(`${type} Old would be replaced: deleted, while New is created (a changed logical id, such as a renamed construct id)`), r.text);
    assert.equal(report(one('Old', type), one('New', type), { allow: true }).code, 0);
  });
}

test('a property that CloudFormation can only change by replacement trips the guard', () => {
  const r = report(one('Logs', 'AWS::Logs::LogGroup', { LogGroupName: 'a' }), one('Logs', 'AWS::Logs::LogGroup', { LogGroupName: 'b' }));
  assert.equal(r.code, 3);
  assert.match(r.text, /AWS::Logs::LogGroup Logs would be replaced/);
});

test('a resource type outside the guard may be deleted', () => {
  const r = report(one('Topic', 'AWS::SNS::Topic'), { Resources: {} });
  assert.equal(r.code, 0);
  assert.doesNotMatch(r.text, /Destructive/);
});

test('the command: --allow-destructive, ALLOW_DESTRUCTIVE and --markdown', () => {
  const [base, head, md] = [...files(one('Old', 'AWS::XRay::Group'), one('New', 'AWS::XRay::Group')), join(mkdtempSync(join(tmpdir(), 'md-')), 'comment.md')];
  assert.equal(cli([base, head], {}).code, 3);
  assert.equal(cli([base, head], { ALLOW_DESTRUCTIVE: '1' }).code, 0);
  const r = cli([base, head, '--allow-destructive', '--markdown', md], {});
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Destructive changes, allowed on purpose:/);
  const comment = readFileSync(md, 'utf8');
  for (const want of ['<!-- cruddur-cdk-diff -->', '2 resource(s) changed. **Destructive changes allowed** by label:', '```diff']) {
    assert.ok(comment.includes(want), `the comment lacks ${want}:\n${comment}`);
  }
});

test('every stage under its own heading, the guard on each, one comment', () => {
  const md = join(mkdtempSync(join(tmpdir(), 'md-')), 'comment.md');
  const [dev, devOld, prod, prodNew, empty] = files(golden, golden, one('Rule', 'AWS::XRay::SamplingRule'), one('Topic', 'AWS::SNS::Topic'), {});
  const safe = cli(['--stack', 'Cruddur-Dev', devOld, dev, '--stack', 'Cruddur', empty, prod, '--markdown', md], {});
  assert.equal(safe.code, 0);
  assert.match(safe.stdout, /^Stack Cruddur-Dev\nThere were no differences\.[^]*\nStack Cruddur\n/);
  const comment = readFileSync(md, 'utf8');
  assert.equal(comment.split('<!-- cruddur-cdk-diff -->').length, 2, 'one marker');
  assert.ok(comment.indexOf('### cdk diff of stack Cruddur-Dev') < comment.indexOf('### cdk diff of stack Cruddur:'), comment);
  // Production losing its rule trips the guard, though development is safe.
  const blocked = cli(['--stack', 'Cruddur-Dev', devOld, dev, '--stack', 'Cruddur', prod, prodNew], {});
  assert.equal(blocked.code, 3);
  assert.match(blocked.stdout, /Stack Cruddur\n[^]*AWS::XRay::SamplingRule Rule would be deleted/);
});

test('bad usage exits 2 with the usage', () => {
  const [base] = files(golden);
  for (const args of [[base], [base, base, '--markdown'], [base, base, '--json'], [base, join(tmpdir(), 'missing.json')],
    ['--stack', 'Cruddur', base], [base, '--stack', 'Cruddur', base, base]]) {
    const r = cli(args, {});
    assert.equal(r.code, 2, `${args}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^templatediff: .*\nusage: node diff\.mjs/);
  }
});
