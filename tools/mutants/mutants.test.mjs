// The mutation sweep's runner on a module of its own: each status it
// reports, and every file put back after. Run by make test:
// node --test tools/mutants/mutants.test.mjs
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sweep } from './mutants.mjs';

// This file's temporary folders, all in one that goes when its tests end.
const scratch = mkdtempSync(join(tmpdir(), 'mutants-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('each mutant is killed, survives, is broken or stale, and the file is put back', () => {
  const root = mkdtempSync(join(scratch, 'mutants-'));
  mkdirSync(join(root, 'm'));
  writeFileSync(join(root, 'm', 'go.mod'), 'module example.com/m\n\ngo 1.22\n');
  const source = 'package m\n\n// Add adds.\nfunc Add(a, b int) int { return a + b }\n\n// Half halves.\nfunc Half(a int) int { return a / 2 }\n';
  writeFileSync(join(root, 'm', 'm.go'), source);
  writeFileSync(join(root, 'm', 'm_test.go'), 'package m\n\nimport "testing"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(2, 3) != 5 {\n\t\tt.Error("Add")\n\t}\n}\n');
  const mutant = (from, to, extra = {}) => ({ file: 'm/m.go', from, to, packages: ['.'], ...extra });
  const results = sweep(root, [
    mutant('a + b', 'a - b'),
    mutant('a / 2', 'a / 3'),
    mutant('a / 2', 'a / 4', { survives: 'a reason' }),
    mutant('a + b', 'a + '),
    mutant('a * b', 'a / b'),
  ]);
  assert.deepEqual(results.map((r) => [r.status, r.line, r.failed]), [
    ['killed', 4, ['TestAdd']],
    ['survived', 7, []],
    ['accepted', 7, []],
    ['broken', 4, []],
    ['stale', 0, []],
  ]);
  assert.equal(readFileSync(join(root, 'm', 'm.go'), 'utf8'), source);
});
