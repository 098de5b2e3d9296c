/** Alarms on one SNS topic: a failed run, and upload events the trigger could not process. */
import { Duration, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { acknowledge } from './nag.ts';

export interface AlarmsProps {
  stateMachine: IStateMachine;
  deadLetterQueue: IQueue;
  /** Subscribed to the topic when given. */
  email?: string | undefined;
}

export class Alarms extends Construct {
  readonly topic: Topic;

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    this.topic = new Topic(this, 'Alarms', { displayName: `${Stack.of(this).stackName} featurize alarms`, enforceSSL: true });
    acknowledge(
      this.topic,
      'AwsSolutions-SNS2',
      'CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS key, and the messages carry ' +
        'only alarm names and states: a customer-managed key would cost more than the data it protects.',
    );
    if (props.email) this.topic.addSubscription(new EmailSubscription(props.email));
    const action = new SnsAction(this.topic);
    const atLeastOne = {
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    };
    new Alarm(this, 'ExecutionsFailed', {
      alarmDescription: 'A featurize run failed: its report is at runs/<runId>/report.json, the cause in the execution',
      metric: props.stateMachine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
      ...atLeastOne,
    }).addAlarmAction(action);
    new Alarm(this, 'UploadsDeadLettered', {
      alarmDescription: 'Upload events the trigger could not process are waiting in the dead-letter queue',
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      ...atLeastOne,
    }).addAlarmAction(action);
  }
}
