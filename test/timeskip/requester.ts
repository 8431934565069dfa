// Workflow code (bundled by test/support/timeSkipping.ts): a stand-in for an asset workflow's side of
// the minter conversation. It keeps every `mintResult` answer it gets, so a test can check that each
// request was answered exactly once, and stays open so that a second answer would still arrive.
import { condition, defineQuery, setHandler } from '@temporalio/workflow';
import type { MintAnswer } from '../../common/mint.ts';
import { mintResultSignal } from '../../workflows/messages.ts';

export const answersQuery = defineQuery<MintAnswer[]>('answers');

export async function mintRequester(): Promise<void> {
  const answers: MintAnswer[] = [];
  setHandler(mintResultSignal, (answer) => void answers.push(answer));
  setHandler(answersQuery, () => answers);
  await condition(() => false);
}
