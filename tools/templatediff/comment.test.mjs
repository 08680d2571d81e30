// Tests of comment.mjs, the trusted half of the pull-request diff, against a
// GitHub API made here (it records what was asked) and the stack's golden
// templates: node --test tools/templatediff (make test runs it).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUTHOR, MARKER, STATUS, diffAgainstBase, findPullRequest, postComment, run, setVerdict, templatesIn } from './comment.mjs';

// This file's temporary folders, all in one that goes when its tests end.
const scratch = mkdtempSync(join(tmpdir(), 'comment-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const goldenText = readFileSync(new URL('../../testdata/Cruddur-Dev.template.json', import.meta.url), 'utf8');
const BASE = 'a'.repeat(40);
const HEAD = 'b'.repeat(40);

/** A GitHub API with the given comments and pull requests; calls are recorded, and the named ones fail. */
function fakeGitHub({ comments = [], pulls = [], failing = [] } = {}) {
  const calls = [];
  const call = (name, fn) => async (args) => {
    calls.push({ name, args });
    if (failing.includes(name)) throw new Error(`${name} failed: HTTP 422 body too long`);
    return { data: fn?.(args) };
  };
  const github = {
    calls,
    paginate: async (method, args) => (await method(args)).data,
    rest: {
      issues: {
        listComments: call('listComments', () => comments),
        createComment: call('createComment'),
        updateComment: call('updateComment'),
      },
      pulls: {
        get: call('get', ({ pull_number }) => pulls.find((p) => p.number === pull_number)),
        list: call('list', () => pulls),
      },
      repos: { createCommitStatus: call('createCommitStatus') },
    },
  };
  return github;
}

const where = { owner: 'octo-org', repo: 'cruddur', number: 7, sha: HEAD };
const ours = { id: 1, user: { login: AUTHOR }, body: `${MARKER}\n0 resource(s) changed. No guarded resource is replaced or deleted.` };

/** A folder of templates, as the artifact download leaves them. */
function templatesDir(files) {
  const dir = mkdtempSync(join(scratch, 'pull-request-templates-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

test('a failed update replaces the earlier comment with a pointer to the run, and the job fails', async () => {
  const github = fakeGitHub({ comments: [ours], failing: ['updateComment'] });
  // The first update (the diff) fails, and so the fallback's update is tried too.
  let calls = 0;
  const update = github.rest.issues.updateComment;
  github.rest.issues.updateComment = async (args) => {
    calls++;
    if (calls === 1) return update(args);
    github.calls.push({ name: 'updateComment', args });
    return { data: {} };
  };
  await assert.rejects(postComment(github, where, `${MARKER}\nthe diff`, 'https://github.com/octo-org/cruddur/actions/runs/42'), /updateComment failed/);
  const updates = github.calls.filter((c) => c.name === 'updateComment');
  assert.equal(updates.length, 2);
  assert.equal(updates[1].args.comment_id, 1);
  assert.match(updates[1].args.body, /^<!-- cruddur-cdk-diff -->\n\*\*Could not post the cdk diff\*\* of this push \(updateComment failed: HTTP 422 body too long\); see the run: https:\/\/github.com\/octo-org\/cruddur\/actions\/runs\/42\n$/);
  assert.doesNotMatch(updates[1].args.body, /No guarded resource/);
});

test('a comment is created when there is none, and only our own earlier one is updated', async () => {
  const forged = { id: 2, user: { login: 'mallory' }, body: `${MARKER}\n0 resource(s) changed. No guarded resource is replaced or deleted.` };
  let github = fakeGitHub({ comments: [forged] });
  await postComment(github, where, `${MARKER}\nthe diff`, 'url');
  assert.deepEqual(github.calls.map((c) => c.name), ['listComments', 'createComment']);
  github = fakeGitHub({ comments: [forged, ours] });
  await postComment(github, where, `${MARKER}\nthe diff`, 'url');
  assert.deepEqual(github.calls.map((c) => [c.name, c.args.comment_id]), [['listComments', undefined], ['updateComment', 1]]);
});

test("a fork's pull request, which the run does not list, is found by its head among the open ones", async () => {
  const pulls = [{ number: 3, state: 'open', head: { sha: BASE } }, { number: 7, state: 'open', head: { sha: HEAD } }];
  const found = await findPullRequest(fakeGitHub({ pulls }), where, { head_sha: HEAD, pull_requests: [] });
  assert.equal(found.number, 7);
  assert.equal(await findPullRequest(fakeGitHub({ pulls }), where, { head_sha: 'c'.repeat(40), pull_requests: [] }), null);
  // A number the run lists counts only while that pull request's head is still the run's commit.
  const moved = [{ number: 7, state: 'open', head: { sha: 'c'.repeat(40) } }];
  assert.equal(await findPullRequest(fakeGitHub({ pulls: moved }), where, { head_sha: HEAD, pull_requests: [{ number: 7 }] }), null);
});

test('the verdict is a commit status: success, failure when the guard trips, error when there is no diff', async () => {
  for (const [code, state] of [[0, 'success'], [3, 'failure'], [2, 'error']]) {
    const github = fakeGitHub();
    await setVerdict(github, where, code, 'url');
    assert.deepEqual(github.calls[0].args, { ...github.calls[0].args, sha: HEAD, state, context: STATUS });
  }
});

test('only plain files named STACK.template.json, few and small enough, are read from the artifact', () => {
  assert.deepEqual(templatesIn(templatesDir({ 'Cruddur-Dev.template.json': '{}' })).map((t) => t.stack), ['Cruddur-Dev']);
  for (const [files, want] of [
    [{ 'Cruddur$(id).template.json': '{}' }, /is not a file named STACK.template.json/],
    [{ 'Cruddur.json': '{}' }, /is not a file named STACK.template.json/],
    [{ 'Big.template.json': ' '.repeat(1_000_001) }, /has 1000001 bytes; expected at most 1000000/],
    [Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`S${i}.template.json`, '{}'])), /21 files; expected 1..20/],
  ]) {
    assert.throws(() => templatesIn(templatesDir(files)), want);
  }
  assert.throws(() => templatesIn(templatesDir({})), /0 files; expected 1..20/);
  for (const make of [(path) => symlinkSync('/etc/passwd', path), (path) => mkdirSync(path)]) {
    const dir = templatesDir({});
    make(join(dir, 'Cruddur.template.json'));
    assert.throws(() => templatesIn(dir), /is not a file named STACK.template.json/);
  }
});

test("the base is the base's golden template, read from git; a stack new in the pull request is diffed against {}", () => {
  const head = JSON.parse(goldenText);
  const [id] = Object.entries(head.Resources).find(([, r]) => r.Type === 'AWS::XRay::SamplingRule');
  delete head.Resources[id];
  const dir = templatesDir({ 'Cruddur-Dev.template.json': JSON.stringify(head), 'Cruddur-New.template.json': '{"Resources": {}}' });
  const asked = [];
  const git = (commit, path) => {
    asked.push(`${commit}:${path}`);
    return path === 'testdata/Cruddur-Dev.template.json' ? goldenText : null;
  };
  const r = diffAgainstBase({ base: BASE, dir, allow: false, git });
  assert.deepEqual(asked, [`${BASE}:testdata/Cruddur-Dev.template.json`, `${BASE}:testdata/Cruddur-New.template.json`]);
  assert.equal(r.code, 3);
  assert.match(r.body, /^<!-- cruddur-cdk-diff -->\n/);
  assert.match(r.body, /\*\*Blocked\*\*/);
  assert.equal(diffAgainstBase({ base: BASE, dir, allow: true, git }).code, 0);
});

test('the diff leaves nothing in the temporary folder', () => {
  const dir = templatesDir({ 'Cruddur-Dev.template.json': goldenText });
  const tmp = mkdtempSync(join(scratch, 'tmp-'));
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  try {
    assert.equal(diffAgainstBase({ base: BASE, dir, allow: false, git: () => goldenText }).code, 0);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
  assert.deepEqual(readdirSync(tmp), []);
});

test('a run without templates gets a comment and an error status that say so, and the job fails', async () => {
  const pulls = [{ number: 7, state: 'open', head: { sha: HEAD }, base: { sha: BASE }, labels: [] }];
  const github = fakeGitHub({ pulls, comments: [ours] });
  let failed;
  const core = { info() {}, notice() {}, setFailed: (m) => { failed = m; } };
  const context = {
    repo: { owner: 'octo-org', repo: 'cruddur' }, serverUrl: 'https://github.com', runId: 42,
    payload: { workflow_run: { head_sha: HEAD, pull_requests: [], html_url: 'https://github.com/octo-org/cruddur/actions/runs/41' } },
  };
  await run({ github, context, core, dir: join(mkdtempSync(join(scratch, 'none-')), 'missing') });
  assert.match(failed, /left no templates/);
  const status = github.calls.find((c) => c.name === 'createCommitStatus');
  assert.equal(status.args.state, 'error');
  const update = github.calls.find((c) => c.name === 'updateComment');
  assert.match(update.args.body, /\*\*No cdk diff for this push\*\*: the pull request's run \(https:\/\/github.com\/octo-org\/cruddur\/actions\/runs\/41\) left no templates/);
});

test('a whole run: the diff of the head against the base is posted and its verdict set', async () => {
  const pulls = [{ number: 7, state: 'open', head: { sha: HEAD }, base: { sha: BASE }, labels: [{ name: 'allow-destructive-changes' }] }];
  const github = fakeGitHub({ pulls });
  const core = { info() {}, notice() {}, setFailed: (m) => assert.fail(m) };
  const context = { repo: { owner: 'octo-org', repo: 'cruddur' }, serverUrl: 'https://github.com', runId: 42, payload: { workflow_run: { head_sha: HEAD, pull_requests: [] } } };
  const dir = templatesDir({ 'Cruddur-Dev.template.json': goldenText });
  // The base's golden is the head's template: no difference.
  const git = (commit, path) => (commit === BASE && path === 'testdata/Cruddur-Dev.template.json' ? goldenText : null);
  await run({ github, context, core, dir, git });
  assert.equal(github.calls.find((c) => c.name === 'createCommitStatus').args.state, 'success');
  const comment = github.calls.find((c) => c.name === 'createComment');
  assert.equal(comment.args.issue_number, 7);
  assert.match(comment.args.body, /^<!-- cruddur-cdk-diff -->\n/);
  assert.match(comment.args.body, /There were no differences/);
});
