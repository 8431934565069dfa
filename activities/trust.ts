// trust: what the worker's configuration says about who may decide, read once per run so the
// workflow's decision rule can use it deterministically (it is kept in the run's history).
import type { ApprovalTrust } from '../common/decision.ts';
import type { SlackCollections } from '../common/slack/settings.ts';

export interface TrustDependencies {
  /** Set when the worker trusts a Slack app's decision signatures (ATELIER_SLACK_APP_PUBLIC_KEY). */
  slackTrust?: { appKey: string; collections: SlackCollections };
}

export function createTrustActivities({ slackTrust }: TrustDependencies) {
  return {
    async approvalTrust({ collectionId }: { collectionId: string }): Promise<ApprovalTrust> {
      if (!slackTrust) return {};
      const settings = slackTrust.collections.forCollection(collectionId);
      return { slack: { appKey: slackTrust.appKey, approvers: settings.approvers, approverGroup: settings.approverGroup } };
    },
  };
}
