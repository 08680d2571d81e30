// Tests of diff.mjs with Node's own test runner: node --test tools/templatediff
// (make test runs it). Templates are small ones made here, and the stack's
// golden template.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GUARDED_TYPES, cli, report } from './diff.mjs';

// This file's temporary folders, all in one that goes when its tests end.
const scratch = mkdtempSync(join(tmpdir(), 'diff-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const golden = JSON.parse(readFileSync(new URL('../../testdata/Cruddur.template.json', import.meta.url), 'utf8'));

/** A template of one resource of the given type. */
const one = (logicalId, type, props = {}) => ({ Resources: { [logicalId]: { Type: type, Properties: props } } });

/** Writes templates to a temporary folder and returns their paths. */
function files(...templates) {
  const dir = mkdtempSync(join(scratch, 'templatediff-'));
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
  const [base, head, md] = [...files(one('Old', 'AWS::XRay::Group'), one('New', 'AWS::XRay::Group')), join(mkdtempSync(join(scratch, 'md-')), 'comment.md')];
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
  const md = join(mkdtempSync(join(scratch, 'md-')), 'comment.md');
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

// The comment is markup GitHub renders: what a pull request can put in a
// template (any string property, a construct path) must not render as
// markup, a mention, a link or a fake verdict, and the body must fit.
import { COMMENT_LIMIT, commentBody, fenceFor, inert } from './diff.mjs';

/** A template whose topic's display name is the given text. */
const topic = (name) => one('Topic', 'AWS::SNS::Topic', { DisplayName: name });

test('a code fence in a template cannot close the diff fence', () => {
  const attack = 'x\n```\n## ✅ 0 resource(s) changed. No guarded resource is replaced or deleted.\n<details><summary>ok</summary>\n';
  const r = report(topic('before'), topic(attack), { stack: 'Cruddur' });
  const fence = r.markdown.match(/^(`{3,})diff$/m)[1];
  assert.ok(fence.length > 3, `the fence ${fence} must be longer than the template's run of backticks`);
  const inside = r.markdown.split(`\n${fence}diff\n`)[1];
  assert.ok(inside.includes('## ✅ 0 resource(s) changed'), 'the forged verdict stays inside the fence');
  assert.equal(inside.split('\n').filter((l) => l === fence).length, 1, 'only our closing fence closes it');
  assert.equal(fenceFor('a ```` b'), '`````');
});

test('template text outside the fence renders as no mention, link, image or HTML', () => {
  const guarded = (path) => ({ Resources: { Role1: { Type: 'AWS::IAM::Role', Properties: {}, Metadata: { 'aws:cdk:path': path } } } });
  const path = 'Cruddur/@team [click](https://evil.example) ![x](https://evil.example/t.png) <img src=x> # heading';
  const r = report(guarded(path), { Resources: {} }, { stack: 'Cruddur' });
  const outside = r.markdown.split(/^`{3,}diff$/m)[0];
  assert.ok(outside.includes('Role1'), outside);
  for (const raw of ['@team', '[click]', '](https://', '![x]', '<img', ' # heading']) {
    assert.ok(!outside.includes(raw), `${raw} is left as markup in:\n${outside}`);
  }
  assert.ok(outside.includes('@\u2060team') && outside.includes('&lt;img'), outside);
  assert.equal(inert('a\nb'), 'a b');
});

test('3,000 guarded deletions fit one comment, with a pointer to the log', () => {
  // One report (cloudformation-diff takes about 45 s over 3,000 resources
  // here), its section given twice, as the comment gives each stage one.
  const base = { Resources: {} };
  for (let i = 0; i < 3000; i++) base.Resources[`LogGroup${i}`] = { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 30 }, Metadata: { 'aws:cdk:path': `Cruddur/Logs${i}/Resource` } };
  const r = report(base, { Resources: {} }, { stack: 'Cruddur' });
  assert.equal(r.code, 3);
  assert.match(r.markdown, /and 2950 more: see the job log/);
  const body = commentBody([r.markdown, r.markdown.replace('<!-- cruddur-cdk-diff -->\n', '')]);
  assert.ok(body.length <= COMMENT_LIMIT, `the comment has ${body.length} characters; GitHub takes ${COMMENT_LIMIT}`);
  assert.match(body, /Cut to GitHub's comment limit/);
  // Each section's fence is closed.
  for (const section of body.split('### cdk diff of stack ').slice(1)) {
    const fence = section.match(/^(`{3,})diff$/m)[1];
    assert.equal(section.split('\n').filter((l) => l === fence).length, 1, 'a cut section closes its fence');
  }
  assert.equal(commentBody(['short']), 'short');
});
