#!/usr/bin/env node
// Fills in stages as a team does, by editing stack/stages/stages.go:
//
//   node fill-stages.mjs FILE Var.Field=value ... Name=value ...
//
// Var.Field=value sets Field of the stage `Var = Stage{...}` (Development,
// Production) to the string value, replacing the field's line or adding it
// before the closing brace; Name=value sets the package variable
// `var Name = "..."` (Repository). It refuses a stage or variable it cannot
// find, so a change to the file's shape fails loudly rather than testing the
// placeholders.
import { readFileSync, writeFileSync } from 'node:fs';

const [file, ...assignments] = process.argv.slice(2);
if (!file || assignments.length === 0) {
  console.error('usage: node fill-stages.mjs FILE Var.Field=value ... Name=value ...');
  process.exit(2);
}
let src = readFileSync(file, 'utf8');
for (const a of assignments) {
  const v = /^(\w+)=(.*)$/s.exec(a);
  if (v) {
    const line = new RegExp(`\\nvar ${v[1]} = "[^"\\n]*"\\n`);
    if (!line.test(src)) throw new Error(`fill-stages: ${file} has no var ${v[1]} = "..."`);
    src = src.replace(line, `\nvar ${v[1]} = ${JSON.stringify(v[2])}\n`);
    continue;
  }
  const m = /^(\w+)\.(\w+)=(.*)$/s.exec(a);
  if (!m) throw new Error(`fill-stages: ${a}: expected Var.Field=value or Name=value`);
  const [, name, field, value] = m;
  const start = src.search(new RegExp(`\\n\\t${name} = Stage\\{\\n`));
  if (start < 0) throw new Error(`fill-stages: ${file} has no stage ${name} = Stage{`);
  const end = src.indexOf('\n\t}\n', start);
  let block = src.slice(start, end);
  const line = new RegExp(`\\n\\t\\t${field}:[^\\n]*`);
  const set = `\n\t\t${field}: ${JSON.stringify(value)},`;
  block = line.test(block) ? block.replace(line, set) : block + set;
  src = src.slice(0, start) + block + src.slice(end);
}
writeFileSync(file, src);
