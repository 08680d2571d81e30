#!/usr/bin/env node
// Compares two CloudFormation templates with the CDK CLI's own diff library
// (@aws-cdk/cloudformation-diff), prints the diff as `cdk diff` does, and
// guards the resources whose loss would hurt: a replacement, deletion or
// orphaning of an IAM role or policy, a log group, the X-Ray group or the
// X-Ray sampling rule fails unless it is allowed on purpose.
//
//   node diff.mjs BASE.template.json HEAD.template.json [--allow-destructive] [--markdown OUT.md]
//   node diff.mjs --stack NAME BASE HEAD [--stack NAME BASE HEAD ...] [options]
//
// With --stack, each stack (a stage) is diffed under its own heading and the
// guard applies to each; a stack new on one side is diffed against {}.
// ALLOW_DESTRUCTIVE=1 in the environment is the same as --allow-destructive.
// Exit codes: 0 the diff is safe (or allowed), 3 the guard tripped, 2 bad usage
// or unreadable templates.
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Writable } from 'node:stream';
import { fullDiff, formatDifferences, ResourceImpact } from '@aws-cdk/cloudformation-diff';

/** Resource types a change must not replace or delete without a yes. */
export const GUARDED_TYPES = new Set([
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::IAM::ManagedPolicy',
  'AWS::Logs::LogGroup',
  'AWS::XRay::Group',
  'AWS::XRay::SamplingRule',
]);

/** What cloudformation-diff says when a resource would be lost or recreated. */
const DESTRUCTIVE = new Map([
  [ResourceImpact.WILL_REPLACE, 'would be replaced'],
  [ResourceImpact.MAY_REPLACE, 'may be replaced'],
  [ResourceImpact.WILL_DESTROY, 'would be deleted'],
  [ResourceImpact.WILL_ORPHAN, 'would be orphaned (removed from the stack, left in the account)'],
]);

const USAGE = 'usage: node diff.mjs (BASE.template.json HEAD.template.json | --stack NAME BASE HEAD [--stack NAME BASE HEAD ...]) [--allow-destructive] [--markdown OUT.md]';

/** GitHub refuses a comment body over this many characters. */
export const COMMENT_LIMIT = 65536;

/** At most this many destructive changes are listed in the comment. */
const LISTED = 50;

/**
 * Text from a template, made inert for Markdown outside a code fence: HTML
 * and Markdown punctuation escaped, so nothing renders as a tag, a link, an
 * image, emphasis or a heading, and a word joiner after each @ so no
 * mention is made; line breaks become spaces.
 */
export function inert(text) {
  return String(text)
    .replace(/[\r\n]+/g, ' ')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/[\\`*_{}\[\]()#+\-.!|~]/g, (c) => `\\${c}`)
    .replace(/@/g, '@\u2060');
}

/** A code fence longer than any run of backticks in text, so text cannot close it. */
export function fenceFor(text) {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  return '`'.repeat(Math.max(3, longest + 1));
}

/** A mistake in how the command was called: exit 2 with the usage. */
class UsageError extends Error {}

function usage(msg) {
  throw new UsageError(msg);
}

function readTemplate(path) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    usage(`cannot read ${path}: ${e.message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    usage(`${path} is not a JSON template: ${e.message}`);
  }
}

/** Lists the guarded resources the diff would replace, delete or orphan. */
export function destructiveChanges(diff) {
  const added = new Map(); // type -> logical ids added
  diff.resources.forEachDifference((logicalId, change) => {
    if (change.isAddition) {
      const type = change.newValue?.Type;
      added.set(type, [...(added.get(type) ?? []), logicalId]);
    }
  });
  const found = [];
  diff.resources.forEachDifference((logicalId, change) => {
    let what = DESTRUCTIVE.get(change.changeImpact);
    const type = change.resourceType ?? change.oldValue?.Type ?? change.newValue?.Type;
    if (!what || !GUARDED_TYPES.has(type)) return;
    const path = change.oldValue?.Metadata?.['aws:cdk:path'];
    if (change.changeImpact === ResourceImpact.WILL_DESTROY && added.has(type)) {
      // A new logical id for the same kind of resource: most often a renamed
      // construct id, which CloudFormation carries out as a replacement.
      what = `would be replaced: deleted, while ${added.get(type).join(', ')} is created (a changed logical id, such as a renamed construct id)`;
    }
    found.push(`${type} ${logicalId}${path ? ` (${path})` : ''} ${what}`);
  });
  return found;
}

/**
 * Diffs two templates: the text `cdk diff` would print with a summary and the
 * guard's verdict, the pull-request comment in Markdown, and the exit code
 * (3 when the guard trips and destructive changes are not allowed, else 0).
 */
export function report(base, head, { allow = false, stack, limit = 60000 } = {}) {
  const diff = fullDiff(base, head);
  let text = '';
  const collect = new Writable({ write(chunk, _enc, done) { text += chunk; done(); } });
  formatDifferences(collect, diff);
  const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
  const changed = diff.resources.differenceCount;
  const destructive = destructiveChanges(diff);

  const lines = [];
  if (stack) lines.push(`Stack ${stack}`);
  lines.push(diff.isEmpty ? 'There were no differences.' : plain.trimEnd());
  lines.push('', `Resources changed: ${changed}`);
  if (destructive.length > 0) {
    lines.push(allow
      ? 'Destructive changes, allowed on purpose:'
      : 'Destructive changes to guarded resources (allow them with the PR label allow-destructive-changes, or ALLOW_DESTRUCTIVE=1 locally):');
    for (const d of destructive) lines.push(`  - ${d}`);
  }

  // A GitHub comment holds at most 65536 characters: limit is this
  // report's share of them.
  const shown = plain.length > limit ? `${plain.slice(0, limit)}\n... (cut: run make diff for the whole diff)` : plain;
  const verdict = destructive.length === 0
    ? 'No guarded resource is replaced or deleted.'
    : (allow ? '**Destructive changes allowed** by label:' : '**Blocked**: destructive changes to guarded resources. Add the label `allow-destructive-changes` if they are intended.');
  const body = diff.isEmpty ? 'There were no differences.' : shown.trimEnd();
  const fence = fenceFor(body);
  const listed = destructive.slice(0, LISTED).map((d) => `- ${inert(d)}`);
  if (destructive.length > LISTED) listed.push(`- ... and ${destructive.length - LISTED} more: see the job log`);
  const markdown = [
    '<!-- cruddur-cdk-diff -->',
    stack ? `### cdk diff of stack ${inert(stack)}: base branch → this pull request` : '### cdk diff: base branch → this pull request',
    '',
    `${changed} resource(s) changed. ${verdict}`,
    ...listed,
    '',
    `${fence}diff`,
    body,
    fence,
    '',
  ].join('\n');
  return { text: lines.join('\n') + '\n', markdown, code: destructive.length > 0 && !allow ? 3 : 0 };
}

/**
 * The command: arguments and environment in, what it prints and its exit
 * code out (it writes the --markdown file itself). The tests call it in one
 * Node process; run as a command, main prints the result and exits with it.
 */
export function cli(argv, env = process.env) {
  try {
    const args = [];
    const stacks = [];
    let allow = env.ALLOW_DESTRUCTIVE === '1' || env.ALLOW_DESTRUCTIVE === 'true';
    let markdown;
    for (let i = 0; i < argv.length; i++) {
      if (argv[i] === '--allow-destructive') allow = true;
      else if (argv[i] === '--markdown') markdown = argv[++i] ?? usage('--markdown needs a file');
      else if (argv[i] === '--stack') {
        const [name, base, head] = argv.slice(i + 1, i + 4);
        if (head === undefined) usage('--stack needs a name and two templates');
        stacks.push({ name, base, head });
        i += 3;
      } else if (argv[i].startsWith('--')) usage(`unknown option ${argv[i]}`);
      else args.push(argv[i]);
    }
    if (stacks.length === 0) {
      if (args.length !== 2) usage('expected two templates');
      stacks.push({ base: args[0], head: args[1] });
    } else if (args.length !== 0) usage('expected templates only after --stack NAME');
    const reports = stacks.map(({ name, base, head }) => report(readTemplate(base), readTemplate(head), { allow, stack: name, limit: Math.floor(60000 / stacks.length) }));
    // One comment: the marker once, then each stack's section.
    const sections = reports.map((r, i) => (i === 0 ? r.markdown : r.markdown.replace('<!-- cruddur-cdk-diff -->\n', '')));
    if (markdown) writeFileSync(markdown, commentBody(sections));
    return { stdout: reports.map((r) => r.text).join('\n'), stderr: '', code: Math.max(...reports.map((r) => r.code)) };
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return { stdout: '', stderr: `templatediff: ${e.message}\n${USAGE}\n`, code: 2 };
  }
}

/**
 * The comment: the stacks' sections, or, where they would pass GitHub's
 * limit whole, each cut at a line and its fence closed, with a pointer to
 * the job log. Never longer than COMMENT_LIMIT.
 */
export function commentBody(sections) {
  const whole = sections.join('\n');
  if (whole.length <= COMMENT_LIMIT) return whole;
  const note = '\n\n**Cut to GitHub\'s comment limit**: the whole diff is in the job log.\n';
  const share = Math.floor((COMMENT_LIMIT - note.length) / sections.length) - 16;
  const cut = sections.map((s) => {
    if (s.length <= share) return s;
    const fence = (s.match(/^(`{3,})diff$/m) ?? [])[1];
    let kept = s.slice(0, share);
    kept = kept.slice(0, kept.lastIndexOf('\n'));
    // Closed again only when the cut falls inside the diff's fence.
    const inside = fence ? kept.split(`\n${fence}diff\n`)[1] : undefined;
    const open = inside !== undefined && !inside.split('\n').includes(fence);
    return open ? `${kept}\n...\n${fence}` : `${kept}\n...`;
  });
  return cut.join('\n') + note;
}

function main() {
  const r = cli(process.argv.slice(2));
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  process.exitCode = r.code;
}

// Run as a command; imported (by the tests), it only exports.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main();
}
