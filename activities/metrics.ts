// Atelier's own metrics from activities, through the activity's metric meter (the worker's runtime
// exports them: ATELIER_METRICS_ADDRESS, workers/telemetry.ts). The meter adds namespace, taskQueue
// and activityType. Outside an activity (a script, a unit test calling the function) nothing is recorded.
import { Context } from '@temporalio/activity';
import type { MetricMeter } from '@temporalio/common';

/** Names as the worker exports them (workers/telemetry.ts sets the histograms' buckets by these names). */
export const activityMetricNames = {
  mintGas: 'atelier_mint_gas_used',
  mintedTokens: 'atelier_minted_tokens',
  pinnedBytes: 'atelier_pinned_bytes',
  pinnedContents: 'atelier_pinned_contents',
} as const;

function meter(): MetricMeter | undefined {
  try {
    return Context.current().metricMeter;
  } catch {
    return undefined;
  }
}

/** A mint transaction of this worker's, mined: its gas (per transaction) and the tokens it minted. */
export function recordMintGas(gasUsed: bigint, tokens: number, mode: 'single' | 'batch'): void {
  const m = meter();
  if (!m) return;
  m.createHistogram(activityMetricNames.mintGas, 'int', 'gas', 'Gas used by each mint transaction (mint or mintBatch)').record(Number(gasUsed), { mode });
  m.createCounter(activityMetricNames.mintedTokens, 'tokens', 'Tokens minted by the transactions in atelier_mint_gas_used').add(tokens, { mode });
}

/** Contents pinned and read back by a pin activity: their bytes and how many. */
export function recordPinned(contents: readonly { bytes: number }[]): void {
  const m = meter();
  if (!m) return;
  m.createCounter(activityMetricNames.pinnedBytes, 'bytes', 'Bytes of asset content pinned in IPFS and verified').add(
    contents.reduce((sum, c) => sum + (Number.isFinite(c.bytes) && c.bytes > 0 ? c.bytes : 0), 0),
  );
  m.createCounter(activityMetricNames.pinnedContents, 'contents', 'Asset contents (renditions, metadata) pinned in IPFS and verified').add(contents.length);
}
