// Automated checks a draft passes before a person looks (a collection's `checks.json`, or an asset
// spec's `checks`). The schema and the outcome's shape only: pure code, so workflow code can import
// it; activities/checks.ts runs them.
import { z } from 'zod';

const hexColour = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'expected a colour such as #1a2b3c');

export const checksSchema = z
  .object({
    /** The shorter side, in pixels, at least this. */
    minSize: z.number().int().min(1).max(20_000).optional(),
    /** The longer side, in pixels, at most this. */
    maxSize: z.number().int().min(1).max(20_000).optional(),
    /** Width:height, e.g. "1:1" or "3:4"; `aspectTolerance` is the relative difference allowed. */
    aspectRatio: z
      .string()
      .regex(/^[1-9][0-9]{0,4}:[1-9][0-9]{0,4}$/, 'expected width:height such as 1:1 or 3:4')
      .optional(),
    aspectTolerance: z.number().min(0).max(1).default(0.01),
    /** The draft file's size in bytes, at most this. */
    maxBytes: z.number().int().min(1).max(500_000_000).optional(),
    /** "srgb": sRGB (or greyscale) pixels, or an embedded ICC profile that says what they are. */
    colorSpace: z.literal('srgb', { message: 'expected colorSpace "srgb"' }).optional(),
    /** false: every pixel opaque. true: transparency allowed (still reported). Left out: not checked. */
    transparency: z.boolean().optional(),
    /** Closeness to the brand palette: the mean CIE76 distance of the pixels to their nearest colour. */
    palette: z
      .object({
        colors: z.array(hexColour).min(1).max(64),
        maxDistance: z.number().min(0).max(200).default(25),
      })
      .strict()
      .optional(),
    /**
     * Near duplicates: a perceptual hash within this Hamming distance (of 64 bits) of another asset's
     * (the collection's runs that have the search attribute AtelierPerceptualHash and did not end without a token).
     */
    nearDuplicate: z
      .object({ maxDistance: z.number().int().min(0).max(64).default(6) })
      .strict()
      .optional(),
    /** Content moderation through OpenAI's moderation endpoint, when the worker has an OpenAI key. */
    moderation: z.boolean().default(true),
  })
  .strict()
  .refine((c) => c.minSize === undefined || c.maxSize === undefined || c.minSize <= c.maxSize, 'minSize must not exceed maxSize');

export type ChecksSpec = z.output<typeof checksSchema>;

export const checkNames = ['size', 'aspectRatio', 'bytes', 'colorSpace', 'transparency', 'palette', 'nearDuplicate', 'moderation'] as const;
export type CheckName = (typeof checkNames)[number];

export interface CheckResult {
  check: CheckName;
  /** What was measured, in words a designer reads ("1024x1024 px", "sRGB", "distance 3 to 7"). */
  detail: string;
  /** How long the check took, in milliseconds. */
  ms: number;
}

export interface CheckOutcome {
  passed: CheckResult[];
  failed: CheckResult[];
  /** Checks configured but not run, with why (moderation without an OpenAI key). */
  skipped: { check: CheckName; reason: string }[];
  /** 64-bit perceptual hash of the draft (16 hex digits), kept for later near-duplicate checks. */
  perceptualHash: string;
}
