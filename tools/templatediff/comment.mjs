// The trusted half of the pull-request diff (.github/workflows/pull-request-diff.yml):
// run by workflow_run with the default branch's code, it finds the pull
// request a run of the pull request workflow was for, reads that run's
// templates (an artifact: data, never code) against the base's golden
// templates, diffs them with this branch's diff.mjs, and posts the comment
// and the guard's commit status. Everything that comes from the pull
// request (file names, template text) is checked or escaped here; what it
// trusts comes from GitHub's API (the pull request's number, base, head and
// labels) and from git.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './diff.mjs';

/** The comment this workflow owns: found by this marker and its author. */
export const MARKER = '<!-- cruddur-cdk-diff -->';
/** Who posts it: the workflow's token acts as this user. */
export const AUTHOR = 'github-actions[bot]';
/** The commit status a branch rule can require. */
export const STATUS = 'cdk diff guard';

/** A template's file name as the synth writes it for a stack. */
const TEMPLATE_NAME = /^([A-Za-z][A-Za-z0-9-]{0,127})\.template\.json$/;
/** CloudFormation's limit on a template read from S3, and how many stacks a run may bring. */
const MAX_TEMPLATE_BYTES = 1_000_000;
const MAX_TEMPLATES = 20;

/**
 * The open pull request whose head is the run's commit, from GitHub's API:
 * the run's own list when it has one (it is empty for a fork's), else the
 * open pull requests. null when none is (closed since, or pushed again).
 */
export async function findPullRequest(github, { owner, repo }, run) {
  for (const { number } of run.pull_requests ?? []) {
    const { data } = await github.rest.pulls.get({ owner, repo, pull_number: number });
    if (data.head.sha === run.head_sha && data.state === 'open') return data;
  }
  const open = await github.paginate(github.rest.pulls.list, { owner, repo, state: 'open', per_page: 100 });
  return open.find((p) => p.head.sha === run.head_sha) ?? null;
}

/**
 * The stacks of a run's templates folder, each with its file: only plain
 * files named NAME.template.json, at most MAX_TEMPLATES of them, each at most
 * MAX_TEMPLATE_BYTES. Anything else is an error that says what.
 */
export function templatesIn(dir) {
  const names = readdirSync(dir);
  if (names.length === 0 || names.length > MAX_TEMPLATES) throw new Error(`the run's templates: ${names.length} files; expected 1..${MAX_TEMPLATES}`);
  return names.sort().map((name) => {
    const m = TEMPLATE_NAME.exec(name);
    const stat = lstatSync(join(dir, name));
    if (!m || !stat.isFile()) throw new Error(`the run's templates: ${JSON.stringify(name.slice(0, 100))} is not a file named STACK.template.json`);
    if (stat.size > MAX_TEMPLATE_BYTES) throw new Error(`the run's templates: ${name} has ${stat.size} bytes; expected at most ${MAX_TEMPLATE_BYTES}`);
    return { stack: m[1], file: join(dir, name) };
  });
}

/**
 * The diff of the pull request's templates against the base's goldens
 * (testdata/STACK.template.json at base, which make test keeps equal to the
 * base's synth; {} for a stack the base lacks), by diff.mjs: its exit code
 * (0 safe, 3 the guard tripped) and the comment's body.
 */
export function diffAgainstBase({ base, dir, allow, git = gitShow }) {
  const work = mkdtempSync(join(tmpdir(), 'pull-request-diff-'));
  try {
    const args = [];
    for (const { stack, file } of templatesIn(dir)) {
      const golden = join(work, `${stack}.base.json`);
      writeFileSync(golden, git(base, `testdata/${stack}.template.json`) ?? '{}');
      args.push('--stack', stack, golden, file);
    }
    const markdown = join(work, 'comment.md');
    const r = cli([...args, ...(allow ? ['--allow-destructive'] : []), '--markdown', markdown], {});
    if (r.code !== 0 && r.code !== 3) throw new Error(r.stderr.trim());
    return { code: r.code, text: r.stdout, body: readFileSync(markdown, 'utf8') };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** A file at a commit, or null where the commit has none. */
function gitShow(commit, path) {
  if (!/^[0-9a-f]{40}$/.test(commit)) throw new Error(`${JSON.stringify(commit)} is not a commit`);
  try {
    return execFileSync('git', ['show', `${commit}:${path}`], { encoding: 'utf8', maxBuffer: 8 * MAX_TEMPLATE_BYTES, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return null;
  }
}

/**
 * Posts the comment, or updates this workflow's earlier one. When that
 * fails, the earlier one (which may say "safe") is replaced by a line that
 * points to the run, and the error is thrown on.
 */
export async function postComment(github, { owner, repo, number }, body, runUrl) {
  const comments = await github.paginate(github.rest.issues.listComments, { owner, repo, issue_number: number, per_page: 100 });
  const previous = comments.find((c) => c.user?.login === AUTHOR && c.body?.startsWith(MARKER));
  try {
    if (previous) await github.rest.issues.updateComment({ owner, repo, comment_id: previous.id, body });
    else await github.rest.issues.createComment({ owner, repo, issue_number: number, body });
  } catch (e) {
    if (previous) {
      const line = `${MARKER}\n**Could not post the cdk diff** of this push (${String(e.message).slice(0, 200).replace(/[^\w .,:;()'-]/g, ' ')}); see the run: ${runUrl}\n`;
      await github.rest.issues.updateComment({ owner, repo, comment_id: previous.id, body: line });
    }
    throw e;
  }
}

/** The guard's verdict as a commit status on the pull request's head. */
export async function setVerdict(github, { owner, repo, sha }, code, runUrl) {
  const [state, description] = {
    0: ['success', 'No guarded resource is replaced or deleted'],
    3: ['failure', 'A guarded resource would be replaced or deleted; see the comment'],
  }[code] ?? ['error', 'The diff could not be made; see the run'];
  await github.rest.repos.createCommitStatus({ owner, repo, sha, state, context: STATUS, description, target_url: runUrl });
}

/**
 * The workflow's step: everything above, in order. A run whose templates are
 * missing (it failed before it wrote them) gets a comment and an error
 * status that say so.
 */
export async function run({ github, context, core, dir = 'pull-request-templates', git = gitShow }) {
  const { owner, repo } = context.repo;
  const wr = context.payload.workflow_run;
  const runUrl = `${context.serverUrl}/${owner}/${repo}/actions/runs/${context.runId}`;
  const pr = await findPullRequest(github, { owner, repo }, wr);
  if (!pr) {
    core.notice(`No open pull request has ${wr.head_sha} as its head any more; nothing to comment on.`);
    return;
  }
  const target = { owner, repo, number: pr.number, sha: wr.head_sha };
  let result;
  try {
    if (!existsSync(dir)) throw new Error(`the pull request's run (${wr.html_url}) left no templates: it failed before its synth`);
    const allow = pr.labels.some((l) => l.name === 'allow-destructive-changes');
    result = diffAgainstBase({ base: pr.base.sha, dir, allow, git });
    core.info(result.text);
  } catch (e) {
    await setVerdict(github, target, 2, runUrl);
    await postComment(github, target, `${MARKER}\n**No cdk diff for this push**: ${String(e.message).slice(0, 300).replace(/[^\w .,:;()/'"-]/g, ' ')}. See the run: ${runUrl}\n`, runUrl);
    core.setFailed(e.message);
    return;
  }
  await setVerdict(github, target, result.code, runUrl);
  await postComment(github, target, result.body, runUrl);
}
