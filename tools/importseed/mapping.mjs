#!/usr/bin/env node
// Writes the resource mapping `cdk import --resource-mapping` takes for the
// X-Ray group and sampling rule that the seed created by hand (`aws xray
// create-group`, `aws xray create-sampling-rule`), so that a stack adopts
// them instead of failing on "already exists":
//
//   node mapping.mjs TEMPLATE --group NAME=GROUP_ARN --rule NAME=RULE_ARN ...
//
// Each name is looked up among the template's AWS::XRay::Group (GroupName)
// or AWS::XRay::SamplingRule (SamplingRule.RuleName) resources; the mapping
// names each by its logical id with the type's primary identifier (GroupARN,
// RuleARN: the types' registry schemas). Exit 2, naming the problem, when a
// name is not in the template or a resource to import has no DeletionPolicy
// (CloudFormation requires one on every resource it imports).
import { readFileSync } from 'node:fs';

const USAGE = 'usage: node mapping.mjs TEMPLATE (--group NAME=ARN | --rule NAME=ARN)...';
const KINDS = {
  '--group': { type: 'AWS::XRay::Group', name: (p) => p.GroupName, id: 'GroupARN', arn: /^arn:aws[a-z-]*:xray:[a-z0-9-]+:\d{12}:group\/.+$/ },
  '--rule': { type: 'AWS::XRay::SamplingRule', name: (p) => p.SamplingRule?.RuleName, id: 'RuleARN', arn: /^arn:aws[a-z-]*:xray:[a-z0-9-]+:\d{12}:sampling-rule\/.+$/ },
};

export function mapping(template, wanted) {
  const out = {};
  for (const { kind, name, arn } of wanted) {
    const k = KINDS[kind];
    if (!k.arn.test(arn)) throw new Error(`${kind} ${name}: ${JSON.stringify(arn)} is not an X-Ray ${k.id}`);
    const found = Object.entries(template.Resources ?? {}).filter(([, r]) => r.Type === k.type && k.name(r.Properties ?? {}) === name);
    if (found.length !== 1) throw new Error(`${kind} ${name}: the template has ${found.length} ${k.type} named ${name}; expected 1`);
    const [logicalId, r] = found[0];
    if (!r.DeletionPolicy) throw new Error(`${kind} ${name}: ${logicalId} has no DeletionPolicy, which CloudFormation requires of a resource it imports`);
    out[logicalId] = { [k.id]: arn };
  }
  return out;
}

function main(argv) {
  const [path, ...rest] = argv;
  const wanted = [];
  for (let i = 0; i < rest.length; i += 2) {
    const [kind, value] = [rest[i], rest[i + 1]];
    const eq = value?.indexOf('=') ?? -1;
    if (!KINDS[kind] || eq < 1) throw new Error(USAGE);
    wanted.push({ kind, name: value.slice(0, eq), arn: value.slice(eq + 1) });
  }
  if (!path || wanted.length === 0) throw new Error(USAGE);
  return JSON.stringify(mapping(JSON.parse(readFileSync(path, 'utf8')), wanted), null, 2) + '\n';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    process.stdout.write(main(process.argv.slice(2)));
  } catch (e) {
    process.stderr.write(`importseed: ${e.message}\n`);
    process.exitCode = 2;
  }
}
