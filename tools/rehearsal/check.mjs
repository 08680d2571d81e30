#!/usr/bin/env node
// The rehearsal's checks on what moto's AWS APIs give back (rehearse.sh):
//
//   node check.mjs taskdef TEMPLATE DESCRIBED.json
//     every container of the template's task definition, as the ECS API
//     describes it (aws ecs describe-task-definition): image, user,
//     read-only root, ports, environment and start order match.
//   node check.mjs retained TEMPLATE LEFT.tsv DOC.md
//     LEFT.tsv has a line "logicalId<TAB>physicalId<TAB>yes|no" for each
//     resource the stack had, whether it is still there after the destroy:
//     every resource the template keeps (DeletionPolicy Retain or RetainExceptOnCreate) is, and
//     DOC.md's Destroy section names each kept type. A RetainExceptOnCreate
//     resource that moto deleted (moto keeps only Retain) is printed as
//     "TYPE<TAB>physicalId", for the rehearsal to put back as AWS keeps it.
//   node check.mjs trust TEMPLATE ROLE.json
//     a role as IAM describes it (aws iam get-role) trusts what the
//     template's role of the same description does: the same action and
//     conditions (the principal is the provider's ARN, which the template
//     names by reference).
//
// Exit 0 when everything matches, 1 with one line per mismatch.
import { readFileSync } from 'node:fs';

const read = (path) => JSON.parse(readFileSync(path, 'utf8'));
const problems = [];
const [command, ...args] = process.argv.slice(2);

/** A template value the API gives back as is: strings, numbers, booleans. */
function literal(v, where) {
  if (v === null || typeof v !== 'object') return v;
  problems.push(`${where}: ${JSON.stringify(v)} is an intrinsic this check cannot resolve`);
  return undefined;
}

function taskdef(templatePath, describedPath) {
  const template = read(templatePath);
  const described = read(describedPath).taskDefinition.containerDefinitions;
  const tasks = Object.values(template.Resources).filter((r) => r.Type === 'AWS::ECS::TaskDefinition');
  if (tasks.length !== 1) problems.push(`${templatePath}: ${tasks.length} task definitions, expected 1`);
  for (const want of tasks[0]?.Properties.ContainerDefinitions ?? []) {
    const got = described.find((c) => c.name === want.Name);
    const at = `container ${want.Name}`;
    if (!got) {
      problems.push(`${at}: not in the ECS API's task definition`);
      continue;
    }
    const same = (what, a, b) => {
      if (JSON.stringify(a) !== JSON.stringify(b)) problems.push(`${at}: ${what} is ${JSON.stringify(b)} in ECS, ${JSON.stringify(a)} in the template`);
    };
    same('image', literal(want.Image, `${at} image`), got.image);
    same('user', want.User, got.user);
    same('readonlyRootFilesystem', want.ReadonlyRootFilesystem ?? false, got.readonlyRootFilesystem ?? false);
    const ports = (list, k) => (list ?? []).map((p) => `${p[k.port]}/${p[k.protocol]}/${p[k.name]}`).sort();
    same('ports', ports(want.PortMappings, { port: 'ContainerPort', protocol: 'Protocol', name: 'Name' }), ports(got.portMappings, { port: 'containerPort', protocol: 'protocol', name: 'name' }));
    const env = (list, n, v) => Object.fromEntries((list ?? []).map((e) => [e[n], e[v]]).sort());
    same('environment', env(want.Environment?.map((e) => ({ Name: e.Name, Value: literal(e.Value, `${at} ${e.Name}`) })), 'Name', 'Value'), env(got.environment, 'name', 'value'));
    const deps = (list, n, c) => (list ?? []).map((d) => `${d[n]}:${d[c]}`).sort();
    same('dependsOn', deps(want.DependsOn, 'ContainerName', 'Condition'), deps(got.dependsOn, 'containerName', 'condition'));
  }
  if (described.length !== (tasks[0]?.Properties.ContainerDefinitions ?? []).length) problems.push(`ECS has ${described.length} containers, the template ${tasks[0]?.Properties.ContainerDefinitions.length}`);
}

function retained(templatePath, leftPath, docPath) {
  const template = read(templatePath);
  const after = Object.fromEntries(readFileSync(leftPath, 'utf8').split('\n').filter(Boolean)
    .map((line) => line.split('\t')).map(([id, physical, left]) => [id, { physical, exists: left === 'yes' }]));
  const kept = Object.entries(template.Resources).filter(([, r]) => ['Retain', 'RetainExceptOnCreate'].includes(r.DeletionPolicy));
  if (kept.length === 0) problems.push(`${templatePath}: nothing is kept on delete; the docs say log groups and a bucket are`);
  for (const [id, r] of kept) {
    if (after[id]?.exists) continue;
    // moto 5.2's CloudFormation keeps only DeletionPolicy Retain on a stack's
    // delete (moto/cloudformation/parsing.py): it deletes RetainExceptOnCreate
    // resources, which AWS keeps. Those are printed for rehearse.sh to put
    // back, as AWS would have left them, before it deploys again.
    if (r.DeletionPolicy === 'RetainExceptOnCreate' && after[id]) console.log(`${r.Type}\t${after[id].physical}`);
    else problems.push(`${id} (${r.Type}, DeletionPolicy ${r.DeletionPolicy}) is gone after the destroy`);
  }
  const readme = readFileSync(docPath, 'utf8');
  const destroy = readme.slice(readme.indexOf('## Destroy'), readme.indexOf('\n## ', readme.indexOf('## Destroy') + 1));
  const words = { 'AWS::Logs::LogGroup': 'log group', 'AWS::S3::Bucket': 'bucket', 'AWS::KMS::Key': 'KMS key' };
  for (const type of new Set(kept.map(([, r]) => r.Type))) {
    if (!words[type] || !destroy.includes(words[type])) problems.push(`${docPath}'s Destroy section does not say that the stack keeps its ${words[type] ?? type}`);
  }
}

function trust(templatePath, rolePath) {
  const role = read(rolePath).Role;
  const described = typeof role.AssumeRolePolicyDocument === 'string' ? JSON.parse(decodeURIComponent(role.AssumeRolePolicyDocument)) : role.AssumeRolePolicyDocument;
  const want = Object.values(read(templatePath).Resources)
    .find((r) => r.Type === 'AWS::IAM::Role' && r.Properties.Description === role.Description);
  if (!want) {
    problems.push(`${role.RoleName}: no role of ${templatePath} has the description ${JSON.stringify(role.Description)}`);
    return;
  }
  const shape = (doc) => JSON.stringify(doc.Statement.map((s) => ({ Action: s.Action, Effect: s.Effect, Condition: s.Condition })));
  if (shape(described) !== shape(want.Properties.AssumeRolePolicyDocument)) {
    problems.push(`${role.RoleName}: IAM says it trusts ${shape(described)}, the template ${shape(want.Properties.AssumeRolePolicyDocument)}`);
  }
}

if (command === 'taskdef' && args.length === 2) taskdef(...args);
else if (command === 'trust' && args.length === 2) trust(...args);
else if (command === 'retained' && args.length === 3) retained(...args);
else {
  console.error('usage: node check.mjs taskdef TEMPLATE DESCRIBED.json | retained TEMPLATE LEFT.tsv DOC.md | trust TEMPLATE ROLE.json');
  process.exit(2);
}
for (const p of problems) console.error(`rehearsal: ${p}`);
process.exit(problems.length === 0 ? 0 : 1);
