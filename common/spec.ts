// Validation of asset specs at the edge (CLI, scripts, Slack): a bad spec never starts a run.
// The schema itself (common/specSchema.ts) is shared with the workflow, which checks its input again.
import type { AssetSpec } from './asset.ts';
import { loadLayerSet, traitProblems } from './layerSet.ts';
import { checkSpec } from './specSchema.ts';

export { assetSpecSchema } from './specSchema.ts';

export class SpecError extends Error {
  constructor(
    readonly problems: string[],
    what = 'asset spec',
  ) {
    super(`Invalid ${what}:\n  ${problems.join('\n  ')}`);
    this.name = 'SpecError';
  }
}

/** A complete, checked AssetSpec, or a SpecError listing every problem with its field. */
export function parseAssetSpec(input: unknown): AssetSpec {
  const checked = checkSpec(input);
  if (!checked.ok) throw new SpecError(checked.problems);
  const { spec } = checked;
  const problems: string[] = [];
  if (spec.generator.kind === 'layers') {
    try {
      problems.push(...traitProblems(loadLayerSet(spec.generator.layerSet), spec.generator.traits).map((p) => `generator.traits: ${p}`));
    } catch (error) {
      problems.push(`generator.layerSet: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new SpecError(problems);
  return spec;
}
