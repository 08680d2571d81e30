// A mutation sweep: each mutant in mutants.json breaks one behaviour of a
// production file (a check skipped, a bound moved, a setting flipped), and
// the Go tests of the packages it names must then fail. A mutant that
// survives is a behaviour no test guards, unless its entry says why it may
// ("survives"). Run by make mutants (about 25 minutes); MUTANTS=3,17 runs
// those entries alone (1-based, as the report numbers them).
//
// The sweep edits the work tree: it refuses to start while a file it
// mutates has uncommitted changes, puts each file back before the next
// mutant, and stops after the current one on SIGINT.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// moduleOf is the folder of the Go module that holds file: the nearest
// go.mod above it, within root.
function moduleOf(root, file) {
  for (let dir = dirname(join(root, file)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'go.mod'))) return dir;
    if (relative(root, dir) === '') throw new Error(`${file}: no go.mod above it in ${root}`);
  }
}

// sweep runs each chosen mutant's tests against root's files and returns
// one result per mutant: killed (the tests failed; failed names the
// failing tests), survived, accepted (survived, with a reason), broken
// (the mutant does not compile) or stale (its "from" is not in the file
// exactly once).
export function sweep(root, mutants, { only, report = () => {}, stopped = () => false } = {}) {
  const results = [];
  for (const [i, m] of mutants.entries()) {
    if ((only && !only.includes(i + 1)) || stopped()) continue;
    const path = join(root, m.file);
    const source = readFileSync(path, 'utf8');
    const at = source.indexOf(m.from);
    const stale = at < 0 || source.indexOf(m.from, at + 1) >= 0;
    const result = { n: i + 1, ...m, line: stale ? 0 : source.slice(0, at).split('\n').length, failed: [] };
    if (stale) {
      result.status = 'stale';
    } else {
      writeFileSync(path, source.slice(0, at) + m.to + source.slice(at + m.from.length));
      let run;
      try {
        run = spawnSync('go', ['test', '-count=1', '-timeout=10m', ...m.packages], { cwd: moduleOf(root, m.file), encoding: 'utf8', maxBuffer: 256 << 20 });
      } finally {
        writeFileSync(path, source);
      }
      if (run.error) throw run.error; // go could not run: no verdict at all
      if (run.signal) break; // stopped (SIGINT): no verdict for this one
      const out = `${run.stdout}${run.stderr}`;
      result.failed = [...new Set([...out.matchAll(/--- FAIL: (\S+)/g)].map((x) => x[1]))];
      result.status = run.status === 0 ? (m.survives ? 'accepted' : 'survived')
        : /\[(build|setup) failed\]/.test(out) ? 'broken' : 'killed';
    }
    report(result);
    results.push(result);
  }
  return results;
}

// format is a result as the report's line.
export function format(r) {
  const what = r.status === 'killed' ? r.failed.slice(0, 4).join(' ') || '(the package failed)'
    : r.status === 'accepted' ? r.survives : `${r.from} -> ${r.to}`;
  return `${String(r.n).padStart(3)} ${r.status.padEnd(8)} ${r.file}:${r.line}  ${what}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const mutants = JSON.parse(readFileSync(new URL('mutants.json', import.meta.url), 'utf8'));
  const only = process.env.MUTANTS ? process.env.MUTANTS.split(',').map(Number) : undefined;
  const files = [...new Set(mutants.map((m) => m.file))];
  if (spawnSync('git', ['diff', '--quiet', 'HEAD', '--', ...files], { cwd: root }).status !== 0) {
    console.error('mutants: a file the sweep mutates has uncommitted changes; commit or stash them first');
    process.exit(2);
  }
  let interrupted = false;
  process.on('SIGINT', () => { interrupted = true; });
  const results = sweep(root, mutants, { only, report: (r) => console.log(format(r)), stopped: () => interrupted });
  const count = (s) => results.filter((r) => r.status === s).length;
  console.log(`${results.length} mutants: ${count('killed')} killed, ${count('accepted')} survived with a reason, ${count('survived')} survived, ${count('broken')} broken, ${count('stale')} stale`);
  process.exit(interrupted || results.some((r) => !['killed', 'accepted'].includes(r.status)) ? 1 : 0);
}
