// A collection's spec: how many assets, the seed their traits are drawn from, how they are made,
// who receives them and how they are approved. Each asset then runs on a spec of its own
// (assetSpecOf), checked by checkSpec like any other. Pure code (zod, no Node modules), so
// workflow code can import it.
import { z } from 'zod';
import type { AssetSpec } from './asset.ts';
import { durationMs } from './asset.ts';
import type { TraitStructure } from './dna.ts';
import { address, duration, layerSetName, manualApprovalFields, renditionsSchema, slug } from './specSchema.ts';
import { checksSchema } from './checks.ts';
import { dynamicSchema } from './dynamic.ts';

// No code generation: the same parser in clients and in the workflow sandbox.
z.config({ jitless: true });

export const MAX_COLLECTION_SIZE = 20_000;
/** The asset spec's limits a collection must leave room for (common/specSchema.ts). */
const MAX_ASSET_NAME = 200;
const MAX_PROMPT = 4000;

/** `{{name}}` in a prompt template; spaces inside the braces are allowed. */
const placeholderPattern = /\{\{\s*([^{}]*?)\s*\}\}/g;
/** Filled in with the asset's number (1-based); no variable may take the name. */
const INDEX_PLACEHOLDER = 'index';

const variableName = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,31}$/, 'expected a variable name: a lowercase letter, then lowercase letters, digits or _ (at most 32)');
const variableValues = z
  .array(z.string().min(1, 'expected a value of at least 1 character').max(200))
  .min(1, 'expected at least 1 value')
  .max(256, 'expected at most 256 values')
  .superRefine((values, ctx) => {
    const seen = new Set<string>();
    for (const [i, value] of values.entries()) {
      if (seen.has(value)) ctx.addIssue({ code: 'custom', message: `"${value}" is listed twice`, path: [i] });
      seen.add(value);
    }
  });

const generatorSchema = z.discriminatedUnion(
  'kind',
  [
    z.object({ kind: z.literal('layers'), layerSet: layerSetName }).strict(),
    z
      .object({
        kind: z.literal('openai'),
        /** A template: `{{variable}}` takes the asset's value of that variable, `{{index}}` its number. */
        prompt: z.string().min(3, 'expected a prompt of at least 3 characters').max(MAX_PROMPT),
        variables: z.record(variableName, variableValues).superRefine((variables, ctx) => {
          const names = Object.keys(variables);
          if (names.length < 1) ctx.addIssue({ code: 'custom', message: 'expected at least 1 variable' });
          if (names.length > 32) ctx.addIssue({ code: 'custom', message: `expected at most 32 variables, got ${names.length}` });
          if (names.includes(INDEX_PLACEHOLDER)) {
            ctx.addIssue({ code: 'custom', message: `"${INDEX_PLACEHOLDER}" is reserved for the asset's number`, path: [INDEX_PLACEHOLDER] });
          }
        }),
      })
      .strict(),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? 'expected generator.kind "layers" or "openai"' : undefined) },
);

const { maxRounds: _maxRounds, ...sampleApprovalFields } = manualApprovalFields;
const approvalSchema = z.discriminatedUnion(
  'mode',
  [
    z.object({ mode: z.literal('auto') }).strict(),
    z.object({ mode: z.literal('each'), ...manualApprovalFields }).strict(),
    z
      .object({
        mode: z.literal('sample'),
        /** How many assets, drawn from the seed, a person approves (one round each) before the rest go through on their own. */
        sampleSize: z.number().int().min(1).max(100),
        ...sampleApprovalFields,
      })
      .strict(),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? 'expected approval.mode "auto", "each" or "sample"' : undefined) },
);

const metadataUri = z
  .string()
  .max(2000)
  .regex(/^(?:ipfs|https):\/\/\S+$/, 'expected an ipfs:// or https:// URI');

export const collectionSpecSchema = z
  .object({
    /** Becomes the collectionId of every asset. */
    id: slug,
    name: z.string().min(1).max(200),
    description: z.string().max(5000).default(''),
    size: z.number().int().min(1).max(MAX_COLLECTION_SIZE),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1),
    generator: generatorSchema,
    renditions: renditionsSchema,
    /** One address for every asset, or one per asset in order. */
    recipient: z.union([address, z.array(address).min(1).max(MAX_COLLECTION_SIZE)], {
      error: (issue) => (issue.code === 'invalid_union' ? 'expected an address, or a list of addresses (one per asset)' : undefined),
    }),
    // Required: no default is safe for thousands of assets (each would wait for a person; auto mints unseen).
    approval: approvalSchema,
    royalties: z
      .object({ receiver: address, basisPoints: z.number().int().min(0).max(10_000) })
      .strict()
      .optional(),
    /** Extras of the contract-level metadata (contractURI). */
    metadata: z
      .object({
        image: metadataUri.optional(),
        banner_image: metadataUri.optional(),
        external_link: z
          .string()
          .max(2000)
          .regex(/^https:\/\/[^\s/?#]+\S*$/, 'expected an https:// URL')
          .optional(),
        collaborators: z.array(address).max(20).optional(),
      })
      .strict()
      .optional(),
    /** How many assets run at once (a sliding window); absent: the worker's setting. */
    concurrency: z.number().int().min(1).max(256).optional(),
    /**
     * Automated checks of every asset's draft (common/checks.ts); a failure rejects the asset. The
     * near-duplicate check reads the whole collection's hashes per asset: keep it for small drops.
     */
    checks: checksSchema.optional(),
    /**
     * A fair reveal (docs/reveal.md): every token mints with this one placeholder metadata, and
     * `atelier collection reveal <id>` later gives each its final metadata, shifted by an offset
     * drawn from a block hash after the mint.
     */
    reveal: z
      .object({
        placeholder: z
          .object({
            name: z.string().trim().min(1, 'expected the placeholder a name (1-200 characters)').max(200),
            description: z.string().max(5000).default(''),
            image: metadataUri.optional(),
          })
          .strict(),
      })
      .strict()
      .optional(),
    /** Traits every asset changes after its mint (common/dynamic.ts, docs/dynamic.md): each asset gets its own dynamic workflow. */
    dynamic: dynamicSchema.optional(),
  })
  .strict();

export type CollectionSpec = z.output<typeof collectionSpecSchema>;
export type CollectionGenerator = CollectionSpec['generator'];
export type OpenAICollectionGenerator = Extract<CollectionGenerator, { kind: 'openai' }>;

export type CollectionSpecCheck = { ok: true; spec: CollectionSpec } | { ok: false; problems: string[] };

type Issue = z.core.$ZodIssue;

/** Problems named by field, as checkSpec words them; a union's problems come from the branch the input's type chose. */
function describeIssues(issues: readonly Issue[], prefix: PropertyKey[] = []): string[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    const where = path.map(String).join('.') || '(spec)';
    if (issue.code === 'unrecognized_keys') return [`${where}: unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')}`];
    if (issue.code === 'invalid_key') return issue.issues.map((inner) => `${where}: ${inner.message}`);
    if (issue.code === 'invalid_union') {
      const typeMismatch = (branch: readonly Issue[]) => branch.length === 1 && branch[0]!.code === 'invalid_type' && branch[0]!.path.length === 0;
      const matching = issue.errors.filter((branch) => !typeMismatch(branch));
      if (matching.length === 1) return describeIssues(matching[0]!, path);
    }
    return [`${where}: ${issue.message}`];
  });
}

/** The `{{name}}` placeholders of a prompt template, in order, repeats included. */
function placeholdersOf(prompt: string): string[] {
  return [...prompt.matchAll(placeholderPattern)].map((m) => m[1]!);
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Problems between fields, looked for on the raw input wherever the fields involved are valid
 * on their own, so they are reported together with every other problem.
 */
function crossFieldProblems(input: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const size = z.number().int().min(1).max(MAX_COLLECTION_SIZE).safeParse(input.size);
  const knownSize = size.success ? size.data : undefined;

  if (knownSize !== undefined && Array.isArray(input.recipient) && input.recipient.length !== knownSize) {
    problems.push(
      `recipient: the list has ${input.recipient.length} address${input.recipient.length === 1 ? '' : 'es'} for a collection of ${knownSize}; ` +
        `give one address for all, or exactly ${knownSize} (one per asset)`,
    );
  }

  const name = z.string().min(1).max(200).safeParse(input.name);
  if (name.success && knownSize !== undefined) {
    const longest = `${name.data} #${knownSize}`.length;
    if (longest > MAX_ASSET_NAME) {
      problems.push(
        `name: the assets' names ("<name> #${knownSize}") would reach ${longest} characters; at most ${MAX_ASSET_NAME}, so at most ${name.data.length - (longest - MAX_ASSET_NAME)} for the name`,
      );
    }
  }

  const generator = input.generator;
  const prompt = isRecord(generator) ? z.string().min(3).max(MAX_PROMPT).safeParse(generator.prompt) : undefined;
  if (isRecord(generator) && generator.kind === 'openai' && prompt?.success && isRecord(generator.variables)) {
    const variables = generator.variables;
    const used = placeholdersOf(prompt.data);
    const undeclared = [...new Set(used.filter((p) => p !== INDEX_PLACEHOLDER && !Object.hasOwn(variables, p)))];
    if (undeclared.length > 0) {
      problems.push(
        `generator.prompt: ${undeclared.map((p) => `{{${p}}}`).join(', ')} ${undeclared.length === 1 ? 'is' : 'are'} not declared in generator.variables ` +
          `(declared: ${Object.keys(variables).join(', ') || 'none'}; {{${INDEX_PLACEHOLDER}}} is the asset's number)`,
      );
    }
    // A badly named variable is reported as such, not also as unused.
    const unused = Object.keys(variables).filter((v) => variableName.safeParse(v).success && v !== INDEX_PLACEHOLDER && !used.includes(v));
    if (unused.length > 0)
      problems.push(`generator.variables: ${unused.map((v) => `"${v}"`).join(', ')} ${unused.length === 1 ? 'is' : 'are'} not used in the prompt`);
    // Each asset's filled-in prompt must still fit the asset spec's limit.
    if (undeclared.length === 0 && knownSize !== undefined) {
      const longestValue = (placeholder: string) => {
        if (placeholder === INDEX_PLACEHOLDER) return String(knownSize).length;
        const values = variables[placeholder];
        return Array.isArray(values) ? Math.max(0, ...values.map((v) => (typeof v === 'string' ? v.length : 0))) : 0;
      };
      const longest = prompt.data.replace(placeholderPattern, (_, p: string) => 'x'.repeat(longestValue(p))).length;
      if (longest > MAX_PROMPT) problems.push(`generator.prompt: filled in with the longest values it reaches ${longest} characters; at most ${MAX_PROMPT}`);
    }
  }

  const approval = input.approval;
  if (isRecord(approval) && (approval.mode === 'each' || approval.mode === 'sample')) {
    const remind = duration.default('1d').safeParse(approval.remindAfter);
    const expire = duration.default('7d').safeParse(approval.expireAfter);
    if (remind.success && expire.success && durationMs(expire.data)! <= durationMs(remind.data)!) {
      problems.push(`approval.expireAfter: ${expire.data} must be longer than remindAfter (${remind.data})`);
    }
    if (approval.mode === 'sample' && knownSize !== undefined && Number.isInteger(approval.sampleSize) && (approval.sampleSize as number) > knownSize) {
      problems.push(`approval.sampleSize: ${approval.sampleSize as number} is more than the collection's ${knownSize} assets`);
    }
  }
  if (isRecord(input.dynamic)) {
    if (input.dynamic.approval === 'manual' && !(isRecord(approval) && approval.mode === 'each'))
      problems.push('dynamic.approval: "manual" refreshes need approval.mode "each" (each asset has its own approval rule)');
    if (input.reveal !== undefined)
      problems.push('dynamic: a collection that reveals after its mint cannot also change its tokens (a refresh before the reveal would show the final art)');
  }
  return problems;
}

/** Every problem of a collection spec, named by its field (the layer set itself is checked at the edge, on disk). */
export function checkCollectionSpec(input: unknown): CollectionSpecCheck {
  const parsed = collectionSpecSchema.safeParse(input);
  const problems = parsed.success ? [] : describeIssues(parsed.error.issues);
  if (isRecord(input)) problems.push(...crossFieldProblems(input));
  if (problems.length > 0 || !parsed.success) return { ok: false, problems: [...new Set(problems)] };
  return { ok: true, spec: parsed.data };
}

/** The DNA structure of an OpenAI collection: each variable a layer, each value an option of weight 1. */
export function structureOfOpenAIGenerator(generator: OpenAICollectionGenerator): TraitStructure {
  return {
    layers: Object.entries(generator.variables).map(([name, values]) => ({ name, options: values.map((value) => ({ name: value, weight: 1 })) })),
    exclusions: [],
  };
}

export interface AssetSpecOptions {
  /** The asset is one of a sample-approved collection's sample: a person approves it, in one round. */
  sampled?: boolean;
  /**
   * The collection's sample was approved. Informational: the spec of an asset outside the sample is
   * auto-approved either way, and the collection workflow holds such assets until the sample is approved.
   */
  approvedBySample?: boolean;
}

/**
 * The spec of the collection's asset at `index` (0-based) with the traits its DNA gave (layer ->
 * option, in layer order). Its assetKey is index + 1, so the on-chain ids run 1..size.
 */
export function assetSpecOf(collection: CollectionSpec, index: number, traits: Record<string, string>, options: AssetSpecOptions = {}): AssetSpec {
  if (!Number.isInteger(index) || index < 0 || index >= collection.size) {
    throw new Error(`collection ${collection.id}: asset index ${index} is outside 0..${collection.size - 1}`);
  }
  const number = index + 1;
  const { generator, approval } = collection;
  let assetGenerator: AssetSpec['generator'];
  if (generator.kind === 'layers') {
    assetGenerator = { kind: 'layers', layerSet: generator.layerSet, traits: { ...traits }, seed: collection.seed };
  } else {
    const prompt = generator.prompt.replace(placeholderPattern, (_, placeholder: string) => {
      if (placeholder === INDEX_PLACEHOLDER) return String(number);
      const value = Object.hasOwn(traits, placeholder) ? traits[placeholder] : undefined;
      if (value === undefined) throw new Error(`collection ${collection.id}: asset #${number} has no value for {{${placeholder}}}`);
      return value;
    });
    assetGenerator = { kind: 'openai', prompt, seed: collection.seed };
  }

  let assetApproval: AssetSpec['approval'];
  if (approval.mode === 'auto') assetApproval = { policy: 'auto' };
  else if (approval.mode === 'each') {
    const { mode: _mode, ...fields } = approval;
    assetApproval = { policy: 'manual', ...fields };
  } else if (options.sampled) {
    const { mode: _mode, sampleSize: _sampleSize, ...fields } = approval;
    assetApproval = { policy: 'manual', ...fields, maxRounds: 1 };
  } else {
    // Outside the sample: the caller starts it only once the sample is approved.
    assetApproval = { policy: 'auto' };
  }

  const recipient = typeof collection.recipient === 'string' ? collection.recipient : collection.recipient[index];
  if (recipient === undefined) throw new Error(`collection ${collection.id}: no recipient for asset #${number}`);
  return {
    collectionId: collection.id,
    assetKey: String(number),
    name: `${collection.name} #${number}`,
    description: collection.description,
    attributes: Object.entries(traits).map(([layer, option]) => ({ trait_type: layer, value: option })),
    generator: assetGenerator,
    renditions: [...collection.renditions],
    recipient,
    approval: assetApproval,
    mint: { mode: 'batch' },
    ...(collection.checks ? { checks: collection.checks } : {}),
    ...(collection.dynamic ? { dynamic: collection.dynamic } : {}),
  };
}
