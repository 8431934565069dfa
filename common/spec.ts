// Validation of asset specs at the edge (CLI, scripts, Slack): a bad spec never starts a run.
import { getAddress, isAddress } from 'ethers';
import { z } from 'zod';
import type { AssetSpec } from './asset.ts';
import { durationMs, durationPattern, renditionNames } from './asset.ts';
import { loadLayerSet, traitProblems } from './layerSet.ts';

const duration = z.string().regex(durationPattern, 'expected a duration such as 90s, 15m, 4h or 2d');
const slug = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected lowercase letters, digits and dashes (at most 63)');

const generatorSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('layers'),
    layerSet: z.string().min(1).default('critters'),
    traits: z.record(z.string(), z.string()).default({}),
    seed: z.number().int().min(0).max(2 ** 31 - 1),
  }),
  z.object({
    kind: z.literal('openai'),
    prompt: z.string().min(3, 'expected a prompt of at least 3 characters').max(4000),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(0),
  }),
], { error: (issue) => (issue.code === 'invalid_union' ? 'expected generator.kind "layers" or "openai"' : undefined) });

const approvalSchema = z.discriminatedUnion('policy', [
  z.object({
    policy: z.literal('manual'),
    approvers: z.array(z.string().min(1)).default([]),
    remindAfter: duration.default('1d'),
    expireAfter: duration.default('7d'),
    maxRounds: z.number().int().min(1).max(20).default(3),
  }),
  z.object({ policy: z.literal('auto') }),
], { error: (issue) => (issue.code === 'invalid_union' ? 'expected approval.policy "manual" or "auto"' : undefined) });

export const assetSpecSchema = z
  .object({
    collectionId: slug,
    assetKey: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected 1-64 letters, digits, _ or -'),
    name: z.string().min(1).max(200),
    description: z.string().max(5000).default(''),
    attributes: z.array(z.object({ trait_type: z.string().min(1), value: z.union([z.string(), z.number()]) })).default([]),
    generator: generatorSchema,
    renditions: z.array(z.enum(renditionNames)).min(1).default(['original', 'webp-1024', 'webp-512', 'thumb-256']),
    recipient: z.string().refine((v) => isAddress(v), 'expected a 0x-prefixed 20-byte address').transform((v) => getAddress(v)),
    approval: approvalSchema.default({ policy: 'manual', approvers: [], remindAfter: '1d', expireAfter: '7d', maxRounds: 3 }),
    mint: z.object({ mode: z.enum(['direct', 'batch'], { message: 'expected mint.mode "direct" or "batch"' }) }).strict().optional(),
  })
  .strict();

export class SpecError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid asset spec:\n  ${problems.join('\n  ')}`);
    this.name = 'SpecError';
  }
}

/** A complete, checked AssetSpec, or a SpecError listing every problem with its field. */
export function parseAssetSpec(input: unknown): AssetSpec {
  const parsed = assetSpecSchema.safeParse(input);
  if (!parsed.success) {
    throw new SpecError(parsed.error.issues.map((i) => `${i.path.join('.') || '(spec)'}: ${i.message}`));
  }
  const spec = parsed.data as AssetSpec;
  const problems: string[] = [];
  if (spec.generator.kind === 'layers') {
    try {
      problems.push(...traitProblems(loadLayerSet(spec.generator.layerSet), spec.generator.traits).map((p) => `generator.traits: ${p}`));
    } catch (error) {
      problems.push(`generator.layerSet: ${(error as Error).message}`);
    }
  }
  if (spec.approval.policy === 'manual' && durationMs(spec.approval.expireAfter)! <= durationMs(spec.approval.remindAfter)!) {
    problems.push(`approval.expireAfter: ${spec.approval.expireAfter} must be longer than remindAfter (${spec.approval.remindAfter})`);
  }
  if (problems.length > 0) throw new SpecError(problems);
  return spec;
}
