// The asset spec's schema: the one check of a spec, run at the edge (common/spec.ts adds the
// layer-set checks that need the disk) and again by the workflow on its own input. Pure code (zod
// and keccak in JavaScript, no Node modules), so workflow code can import it.
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { z } from 'zod';
import type { AssetSpec } from './asset.ts';
import { assetKeyPattern, durationMs, durationPattern, renditionNames, slugPattern } from './asset.ts';
import { checksSchema } from './checks.ts';
import { dynamicSchema } from './dynamic.ts';
import { artworkPathPattern, commitPattern, repositoryLocationProblem } from './repository.ts';

// No code generation: the same parser in clients and in the workflow sandbox.
z.config({ jitless: true });

/** The longest wait a spec may ask for (a reminder or an expiry). */
export const MAX_WAIT_DAYS = 90;

export const duration = z
  .string()
  .regex(durationPattern, 'expected a duration such as 90s, 15m, 4h or 2d')
  .refine((d) => (durationMs(d) ?? Infinity) <= MAX_WAIT_DAYS * 86_400_000, `expected at most ${MAX_WAIT_DAYS}d`);
export const slug = z.string().regex(slugPattern, 'expected lowercase letters, digits and dashes (at most 63)');

/** EIP-55: the address with its checksum casing, or undefined when it is not one. */
export function checksumAddress(value: string): string | undefined {
  if (!/^0x[0-9a-fA-F]{40}$/.test(value)) return undefined;
  const lower = value.slice(2).toLowerCase();
  const hash = bytesToHex(keccak_256(utf8ToBytes(lower)));
  let out = '0x';
  for (let i = 0; i < 40; i++) out += parseInt(hash[i]!, 16) >= 8 ? lower[i]!.toUpperCase() : lower[i]!;
  // Mixed case must already be the checksum; all-lower or all-upper carry none.
  const body = value.slice(2);
  if (body !== body.toLowerCase() && body !== body.toUpperCase() && `0x${body}` !== out) return undefined;
  return out;
}

/** A recipient address, given back with its EIP-55 checksum casing. */
export const address = z.string().transform((v, ctx) => {
  const checked = checksumAddress(v);
  if (!checked) ctx.addIssue({ code: 'custom', message: 'expected a 0x-prefixed 20-byte address (with a valid checksum if mixed case)' });
  else if (/^0x0{40}$/.test(checked)) ctx.addIssue({ code: 'custom', message: 'the zero address cannot receive a token' });
  return checked ?? v;
});

export const layerSetName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'expected the name of a layer set folder (letters, digits, - and _)');

const generatorSchema = z.discriminatedUnion(
  'kind',
  [
    z
      .object({
        kind: z.literal('layers'),
        layerSet: layerSetName.default('critters'),
        traits: z
          .record(z.string().max(64), z.string().max(64))
          .refine((t) => Object.keys(t).length <= 64, 'at most 64 traits')
          .default({}),
        seed: z
          .number()
          .int()
          .min(0)
          .max(2 ** 31 - 1),
      })
      .strict(),
    z
      .object({
        kind: z.literal('openai'),
        prompt: z.string().min(3, 'expected a prompt of at least 3 characters').max(4000),
        seed: z
          .number()
          .int()
          .min(0)
          .max(2 ** 31 - 1)
          .default(0),
      })
      .strict(),
    z
      .object({
        kind: z.literal('artwork'),
        repository: z.string().superRefine((v, ctx) => {
          const problem = repositoryLocationProblem(v);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
        commit: z.string().regex(commitPattern, 'expected a full commit id (40 hex digits)'),
        path: z.string().regex(artworkPathPattern, 'expected a path in the repository ending in .png, .jpg, .jpeg, .webp or .svg (no "..")'),
        sha256: z.string().regex(/^[0-9a-f]{64}$/, "expected the artwork's sha256 (64 lowercase hex digits)"),
        svgSize: z.number().int().min(16).max(4096).default(1024),
      })
      .strict(),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? 'expected generator.kind "layers", "openai" or "artwork"' : undefined) },
);

export const approverName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'expected an approver name or Slack user id (letters, digits, . _ @ -)');
/** The manual policy's fields and defaults (also a collection's per-asset and sample approval). */
export const manualApprovalFields = {
  approvers: z.array(approverName).max(100).default([]),
  /** Approver name -> ed25519 public key (hex): their CLI decisions are signed with it. */
  keys: z.record(approverName, z.string().regex(/^[0-9a-f]{64}$/, 'expected an ed25519 public key: 64 lowercase hex digits (atelier keys new)')).default({}),
  /** Take unsigned decisions too (a quick start); the token's metadata says the approval was unsigned. */
  unsigned: z.boolean().default(false),
  remindAfter: duration.default('1d'),
  expireAfter: duration.default('7d'),
  maxRounds: z.number().int().min(1).max(20).default(3),
};
const approvalSchema = z.discriminatedUnion(
  'policy',
  [
    z
      .object({
        policy: z.literal('manual'),
        ...manualApprovalFields,
      })
      .strict(),
    z.object({ policy: z.literal('auto') }).strict(),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? 'expected approval.policy "manual" or "auto"' : undefined) },
);

export const renditionsSchema = z.array(z.enum(renditionNames)).min(1).max(renditionNames.length).default(['original', 'webp-1024', 'webp-512', 'thumb-256']);

export const assetSpecSchema = z
  .object({
    collectionId: slug,
    assetKey: z
      .string()
      .regex(
        assetKeyPattern,
        'expected 1-64 letters, digits, _ or -; a number has no leading zeros and at most 18 digits (7 and 0007 would be the same token)',
      ),
    name: z.string().min(1).max(200),
    description: z.string().max(5000).default(''),
    attributes: z
      .array(z.object({ trait_type: z.string().min(1).max(100), value: z.union([z.string().max(500), z.number()]) }).strict())
      .max(100)
      .default([]),
    generator: generatorSchema,
    renditions: renditionsSchema,
    recipient: address,
    approval: approvalSchema.default({ policy: 'manual', approvers: [], keys: {}, unsigned: false, remindAfter: '1d', expireAfter: '7d', maxRounds: 3 }),
    mint: z
      .object({ mode: z.enum(['direct', 'batch'], { message: 'expected mint.mode "direct" or "batch"' }) })
      .strict()
      .optional(),
    checks: checksSchema.optional(),
    dynamic: dynamicSchema.optional(),
  })
  .strict();

export type SpecCheck = { ok: true; spec: AssetSpec } | { ok: false; problems: string[] };

/** Every problem of a spec, named by its field (no disk access: layer files are checked at the edge). */
export function checkSpec(input: unknown): SpecCheck {
  const parsed = assetSpecSchema.safeParse(input);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((i) => {
        const where = i.path.join('.') || '(spec)';
        return i.code === 'unrecognized_keys' ? `${where}: unknown field ${i.keys.map((k) => `"${k}"`).join(', ')}` : `${where}: ${i.message}`;
      }),
    };
  }
  const spec = parsed.data as AssetSpec;
  if (spec.approval.policy === 'manual' && durationMs(spec.approval.expireAfter)! <= durationMs(spec.approval.remindAfter)!) {
    return { ok: false, problems: [`approval.expireAfter: ${spec.approval.expireAfter} must be longer than remindAfter (${spec.approval.remindAfter})`] };
  }
  if (spec.dynamic?.approval === 'manual' && spec.approval.policy !== 'manual') {
    return { ok: false, problems: ['dynamic.approval: "manual" refreshes need the spec\'s approval.policy "manual" (whose rule they follow)'] };
  }
  if (spec.dynamic && spec.generator.kind === 'artwork') {
    return { ok: false, problems: ['dynamic: artwork from a repository changes by a push, not by dynamic traits (use the layers or openai generator)'] };
  }
  // A designer's push must not approve itself: artwork always goes before a person.
  if (spec.generator.kind === 'artwork' && spec.approval.policy !== 'manual') {
    return { ok: false, problems: ['approval.policy: artwork from a repository needs "manual" approval (a push never approves itself)'] };
  }
  return { ok: true, spec };
}
