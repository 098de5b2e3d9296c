import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { readDefinitionText, taskStates } from '../../statemachine/definition.ts';
import { eventFunctionFolders, functionArnPlaceholder, stepOfResource, steps } from '../../statemachine/steps.ts';

const functionsDir = new URL('../../functions/', import.meta.url);

describe('the list of steps', () => {
  it('has a step with a handler folder for every Task state of the definition', async () => {
    const tasks = taskStates(await readDefinitionText());
    expect(tasks.length).toBeGreaterThan(0);
    for (const [name, state] of tasks) {
      const step = stepOfResource(state.Resource ?? '');
      expect(step, `Task state ${name} invokes ${state.Resource}, which is no step's ARN placeholder`).toBeDefined();
      expect(existsSync(new URL(`${step!.folder}/handler.ts`, functionsDir)), `functions/${step!.folder}/handler.ts`).toBe(true);
    }
  });

  it('has every step invoked by a Task state, and every function folder is a step or an event-driven function', async () => {
    const invoked = new Set(taskStates(await readDefinitionText()).map(([, state]) => state.Resource));
    for (const step of steps) expect(invoked.has(`\${${functionArnPlaceholder(step)}}`), step.name).toBe(true);
    const folders = (await readdir(functionsDir, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory() && entry.name !== 'shared')
      .map((entry) => entry.name)
      .sort();
    expect(folders).toEqual([...steps.map((step) => step.folder), ...eventFunctionFolders].sort());
  });

  it('names each step once, its folder after it', () => {
    expect(new Set(steps.map((step) => step.name)).size).toBe(steps.length);
    for (const step of steps) expect(step.folder).toBe(step.name.replace(/[A-Z]/g, (c, i) => `${i ? '-' : ''}${c.toLowerCase()}`));
  });
});
