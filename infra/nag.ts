/**
 * Acknowledging cdk-nag findings, each with its reason, on the construct that causes it. cdk-nag v3 matches a
 * finding by its exact id, which for IAM5 embeds the resource as cdk-nag renders it (`<Logical.Arn>/prefix/*`):
 * the ids are computed here from the very resources that were granted, so they cannot drift apart.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** Acknowledges AwsSolutions-IAM5 for each wildcard resource of `resources` granted to `principal`. */
export function acknowledgeWildcardResources(principal: IConstruct, resources: readonly string[], reason: string): void {
  const stack = Stack.of(principal);
  for (const resource of resources) {
    const rendered = render(stack.resolve(resource));
    if (rendered.includes('*')) acknowledge(principal, `AwsSolutions-IAM5[Resource::${rendered}]`, reason);
  }
}

/** A resolved CloudFormation value as cdk-nag flattens it: references become `<Name>` or `<Name.Attribute>`. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') return `<${v.Ref}>`;
  const getAtt = v['Fn::GetAtt'] as [string, string] | undefined;
  if (getAtt) return `<${getAtt[0]}.${getAtt[1]}>`;
  const join = v['Fn::Join'] as [string, unknown[]] | undefined;
  if (join) return join[1].map(render).join(join[0]);
  throw new Error(`cannot render ${JSON.stringify(value)} as cdk-nag does`);
}
