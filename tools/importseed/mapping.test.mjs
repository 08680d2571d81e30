// Tests of mapping.mjs with Node's own runner (make test runs it), on the
// production golden: the stack that keeps the seed's names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mapping } from './mapping.mjs';

const golden = () => JSON.parse(readFileSync(new URL('../../testdata/Cruddur.template.json', import.meta.url), 'utf8'));
const groupArn = 'arn:aws:xray:us-east-1:111122223333:group/Cruddur/ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const ruleArn = 'arn:aws:xray:us-east-1:111122223333:sampling-rule/Cruddur';
const seed = [{ kind: '--group', name: 'Cruddur', arn: groupArn }, { kind: '--rule', name: 'Cruddur', arn: ruleArn }];

test("the seed's group and rule map to the production stack's, by their primary identifiers", () => {
  assert.deepEqual(mapping(golden(), seed), { GroupC77FDACD: { GroupARN: groupArn }, SamplingRuleD4BE07E6: { RuleARN: ruleArn } });
});

test('what cannot be imported is refused, naming it', () => {
  assert.throws(() => mapping(golden(), [{ kind: '--group', name: 'Cruddur-dev', arn: groupArn }]), /the template has 0 AWS::XRay::Group named Cruddur-dev/);
  assert.throws(() => mapping(golden(), [{ kind: '--rule', name: 'Cruddur', arn: groupArn }]), /is not an X-Ray RuleARN/);
  const t = golden();
  delete t.Resources.SamplingRuleD4BE07E6.DeletionPolicy;
  assert.throws(() => mapping(t, seed), /SamplingRuleD4BE07E6 has no DeletionPolicy, which CloudFormation requires/);
});
