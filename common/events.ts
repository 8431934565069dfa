// Outgoing webhooks: the events an asset run reports, and the shape a receiver gets. Pure code, so
// workflow code can import it; activities/events.ts delivers them.

export const assetEventNames = [
  'asset.awaiting_approval',
  'asset.approved',
  'asset.rejected',
  'asset.checks_failed',
  'asset.minted',
  'asset.updated',
  'asset.failed',
] as const;
export type AssetEventName = (typeof assetEventNames)[number];

/** One event as the workflow decides it: everything deterministic, so every retry sends the same body. */
export interface AssetEvent {
  type: AssetEventName;
  /** The same on every delivery attempt of this event: `<workflowId>/<runId>/<type>/<round>`. */
  id: string;
  /** Workflow time when it happened (ISO). */
  occurredAt: string;
  collectionId: string;
  assetKey: string;
  workflowId: string;
  runId: string;
  round: number;
  /** What a receiver needs: draftCid and checks, the decision, the token, the error. No secrets, no bytes. */
  data: Record<string, unknown>;
}

export const assetEventId = (workflowId: string, runId: string, type: AssetEventName, round: number) => `${workflowId}/${runId}/${type}/${round}`;
