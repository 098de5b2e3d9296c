/** `featurize status <executionArn>`: a deployed run's state, its images so far, where its dataset and report are. */
import type { Command } from 'commander';
import type { RunStatus } from '../deployed-runs.ts';

export function addStatusCommand(program: Command): void {
  program
    .command('status')
    .description('show a deployed run: state, images succeeded/failed/pending, where the dataset and the report are')
    .argument('<executionArn>', 'the execution, as `featurize start` printed it')
    .action(async (executionArn: string) => {
      const { awsClients, describeRun } = await import('../deployed-runs.ts');
      printRunStatus(await describeRun(awsClients(executionArn).sfn, executionArn));
    });
}

export function printRunStatus(status: RunStatus): void {
  const items = status.items
    ? `${status.items.succeeded} succeeded, ${status.items.failed} failed, ${status.items.pending} pending (of ${status.items.total})`
    : 'none listed yet';
  const lines = [
    `run        ${status.runId}`,
    `status     ${status.status}`,
    `images     ${items}`,
    ...(status.validation ? [`validation ${status.validation.passed ? 'passed' : 'FAILED'}: ${status.validation.summary}`] : []),
    ...(status.index ? [status.index.replace(/^index /, 'index      ')] : []),
    ...(status.error ? [`error      ${status.error.error}: ${status.error.cause}`] : []),
    `dataset    ${status.dataset}`,
    `report     ${status.report}`,
    `page       ${status.page}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
