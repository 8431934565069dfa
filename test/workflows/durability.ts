// A workflow that only waits: enough to show that a run outlives its server.
import { condition, defineSignal, setHandler } from '@temporalio/workflow';

export const finishSignal = defineSignal<[string]>('finish');

export async function waitForFinish(): Promise<string> {
  let message: string | undefined;
  setHandler(finishSignal, (value) => void (message = value));
  await condition(() => message !== undefined);
  return `finished: ${message}`;
}
