import {
  Annotations,
  AspectPriority,
  Aspects,
  type IAspect,
  RemovalPolicy,
  Stack,
  Token,
} from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';

/**
 * Services that put the calling resource's account in the request when they invoke a function
 * (AWS documents `aws:SourceAccount` for Secrets Manager rotation functions and for EventBridge
 * targets), so a function permission for them can name this account as SourceAccount.
 * API Gateway is not in the list: its permission is bound to this account through its SourceArn,
 * `arn:<partition>:execute-api:<region>:<account>:<api>/...`.
 */
export const sourceAccountServices: readonly string[] = [
  'secretsmanager.amazonaws.com',
  'events.amazonaws.com',
];

/**
 * No confused deputy: every function permission for an AWS service is tied to this account. A
 * service in `sourceAccountServices` gets SourceAccount; any other must carry a SourceArn that
 * names this account, or the synth fails with an error on the permission. Applied to a whole
 * stack, so it covers permissions that constructs create on their own (event targets, rotation
 * schedules, API integrations).
 */
export class ServicePermissionsNameTheAccount implements IAspect {
  visit(node: IConstruct): void {
    if (!(node instanceof lambda.CfnPermission)) return;
    const stack = Stack.of(node);
    const principal = stack.resolve(node.principal) as unknown;
    if (typeof principal !== 'string' || !principal.endsWith('.amazonaws.com')) return;
    if (node.sourceAccount === undefined && sourceAccountServices.includes(principal)) {
      node.sourceAccount = stack.account;
    }
    if (node.sourceAccount !== undefined) return;
    if (node.sourceArn === undefined || !namesAccount(stack, node.sourceArn)) {
      Annotations.of(node).addError(
        `The permission for ${principal} names neither a SourceAccount nor a SourceArn in this ` +
          'account: any account could have that service invoke the function.',
      );
    }
  }
}

/**
 * Whether an ARN, as the template will hold it, is in this account: it is built from
 * AWS::AccountId, or refers to a resource of this stack or an export of this account and region
 * (Ref, Fn::GetAtt, Fn::ImportValue), or, written out, holds this stack's account.
 */
export function namesAccount(stack: Stack, arn: string): boolean {
  const rendered = JSON.stringify(stack.resolve(arn));
  if (/"Ref":"AWS::AccountId"|"Ref":"(?!AWS::)|"Fn::GetAtt"|"Fn::ImportValue"/.test(rendered)) {
    return true;
  }
  return !Token.isUnresolved(stack.account) && rendered.includes(stack.account);
}

/**
 * Queues keep their messages when the stack deletes or replaces them: the payments, settlement
 * checks and notifications in flight. Applied to a whole stack, so a queue added anywhere in it is
 * covered.
 */
export class RetainQueues implements IAspect {
  visit(node: IConstruct): void {
    if (node instanceof sqs.CfnQueue) {
      node.applyRemovalPolicy(RemovalPolicy.RETAIN);
    }
  }
}

/** The guards every deployable stack gets; queues are retained where `retainQueues` says. */
export function applyDeployGuards(stack: Stack, options: { readonly retainQueues: boolean }): void {
  const mutating = { priority: AspectPriority.MUTATING };
  Aspects.of(stack).add(new ServicePermissionsNameTheAccount(), mutating);
  if (options.retainQueues) {
    Aspects.of(stack).add(new RetainQueues(), mutating);
  }
}
