// approval: tells the approvers that a draft waits for them, reminds them, and closes the request.
// Without a chat integration configured the notice goes to the worker log (the CLI and `status`
// show the pending request either way).
import { log } from '@temporalio/activity';

export interface ApprovalNotice {
  workflowId: string;
  event: 'requested' | 'reminder' | 'expired' | 'decided';
  collectionId: string;
  assetKey: string;
  name: string;
  round: number;
  draftCid: string;
  /** Traits or prompt the draft was made from. */
  inputs: Record<string, unknown>;
  feedback: string[];
  approvers: string[];
  decision?: { kind: 'approve' | 'reject'; by: string; via: string; at: string; comment?: string };
}

export interface ApprovalDependencies {
  gatewayUrl: string;
}

export function createApprovalActivities({ gatewayUrl }: ApprovalDependencies) {
  return {
    async announceApproval(notice: ApprovalNotice): Promise<void> {
      log.info(`approval ${notice.event}`, {
        asset: notice.workflowId,
        round: notice.round,
        preview: `${gatewayUrl}/ipfs/${notice.draftCid}`,
        decision: notice.decision,
      });
    },
  };
}
