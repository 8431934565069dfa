// format: renditions of the approved draft with sharp, and the ERC-721 metadata JSON.
// Deterministic: the same draft and inputs give the same bytes, so the same CIDs.
import { ApplicationFailure } from '@temporalio/activity';
import type { KuboRPCClient } from 'kubo-rpc-client';
import sharp from 'sharp';
import type { Metadata, Sharp, SharpOptions } from 'sharp';
import type { AssetSpec, ContentRef, Draft, FormattedAsset, Rendition, RenditionName } from '../common/asset.ts';
import type { DecisionRecord } from '../common/decision.ts';
import { decisionMessage } from '../common/decision.ts';
import { archiveContents, archiveProgress } from './arweave.ts';
import type { ArweaveArchive, ArweaveCopy } from './arweave.ts';
import { heartbeatWhile } from './heartbeat.ts';
import { addContent, readVerified } from './kubo.ts';

export interface FormatDependencies {
  kubo: KuboRPCClient;
  /** AVIF is the costly rendition (~0.5 s a 1024 px image): made only when the worker is told to. */
  avif: boolean;
  /** Set when ATELIER_ARWEAVE_URL is: renditions and metadata also get permanent copies there. */
  arweave?: ArweaveArchive;
}

export interface FormatInput {
  spec: AssetSpec;
  draft: Draft;
  /** The accepted decision, with the approver's signature when it was signed. */
  approval: Pick<DecisionRecord, 'by' | 'via' | 'at' | 'round' | 'comment' | 'proof'>;
  workflowId: string;
  /** A dynamic asset's refresh: the version this metadata is, and the earlier versions' metadata CIDs (newest first). */
  version?: { number: number; previous: string[] };
}

export const limits = { maxDimension: 4096, maxInputPixels: 4096 * 4096, maxDraftBytes: 25 * 1024 * 1024, maxRenditionBytes: 10 * 1024 * 1024 };
/** Image formats a draft may have, from a generator and into format. */
export const draftFormats: readonly string[] = ['png', 'jpeg', 'webp'];

/**
 * Options for every sharp() that decodes bytes from outside (drafts from a generator or Kubo,
 * layer files): sharp refuses to decode more pixels than this, so a small file that inflates to
 * gigabytes (a decompression bomb) never reaches memory.
 */
export const untrustedInput = { limitInputPixels: limits.maxInputPixels } as const satisfies SharpOptions;

/**
 * Checks image bytes from outside before anything uses them, failing for good with a reason that
 * names `what`: too many bytes, not an image, a format not in `formats`, more than maxDimension a
 * side (read from the header, before decoding), or bytes that do not decode whole (truncated or
 * corrupt: the image is decoded once, under the pixel limit).
 */
export async function inspectImage(bytes: Buffer, what: string, formats: readonly string[]): Promise<{ format: string; width: number; height: number }> {
  if (bytes.byteLength > limits.maxDraftBytes) {
    throw ApplicationFailure.nonRetryable(`${what} is ${bytes.byteLength} bytes, over the ${limits.maxDraftBytes} limit`, 'ImageTooLarge');
  }
  let meta: Metadata;
  try {
    // The header only: how big the image says it is, before anything is decoded.
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw ApplicationFailure.nonRetryable(`${what} is not an image (${(error as Error).message})`, 'UnsupportedImage');
  }
  if (!meta.format || !formats.includes(meta.format)) {
    throw ApplicationFailure.nonRetryable(`${what} is ${meta.format ?? 'not an image'}; expected ${formats.join(', ')}`, 'UnsupportedImage');
  }
  const { width = 0, height = 0 } = meta;
  const pages = meta.pages ?? 1;
  if (!width || !height || width > limits.maxDimension || height > limits.maxDimension || width * height * pages > limits.maxInputPixels) {
    throw ApplicationFailure.nonRetryable(
      `${what} is ${width}x${height} pixels${pages > 1 ? ` x ${pages} pages` : ''}; at most ${limits.maxDimension} a side`,
      'ImageTooLarge',
    );
  }
  try {
    await sharp(bytes, untrustedInput).stats();
  } catch (error) {
    throw ApplicationFailure.nonRetryable(`${what} is truncated or corrupt (${(error as Error).message})`, 'CorruptImage');
  }
  return { format: meta.format, width, height };
}

const recipes: Record<RenditionName, { width: number | null; mimeType: string; encode: (image: Sharp) => Sharp }> = {
  original: { width: null, mimeType: 'image/png', encode: (image) => image.png() },
  'webp-1024': { width: 1024, mimeType: 'image/webp', encode: (image) => image.webp({ quality: 88 }) },
  'webp-512': { width: 512, mimeType: 'image/webp', encode: (image) => image.webp({ quality: 85 }) },
  'thumb-256': { width: 256, mimeType: 'image/webp', encode: (image) => image.webp({ quality: 80 }) },
  'avif-1024': { width: 1024, mimeType: 'image/avif', encode: (image) => image.avif({ quality: 55, effort: 4 }) },
};

export function createFormatActivities({ kubo, avif, arweave }: FormatDependencies) {
  return {
    /**
     * Heartbeats throughout: under its heartbeat timeout a lost or dead attempt is retried in seconds.
     * The details keep what an attempt posted to Arweave, so a retry reuses its copies.
     */
    async formatAsset(input: FormatInput): Promise<FormattedAsset> {
      const progress = archiveProgress();
      return heartbeatWhile(
        () => format(input, progress),
        () => progress,
      );
    },
  };

  async function format({ spec, draft, approval, workflowId, version }: FormatInput, progress: ReturnType<typeof archiveProgress>): Promise<FormattedAsset> {
    if (draft.bytes > limits.maxDraftBytes) {
      throw ApplicationFailure.nonRetryable(`draft ${draft.cid} is ${draft.bytes} bytes, over ${limits.maxDraftBytes}`, 'ImageTooLarge');
    }
    const source = await readVerified(kubo, draft);
    const meta = await inspectImage(source, `draft ${draft.cid}`, draftFormats);
    const wanted = spec.renditions.filter((name) => name !== 'avif-1024' || avif);
    const renditions: Rendition[] = [];
    for (const name of wanted) {
      const recipe = recipes[name];
      // The original keeps the approved bytes when they already are PNG: the approved draft is the image.
      const bytes =
        name === 'original' && meta.format === 'png'
          ? source
          : await recipe
              .encode(
                sharp(source, untrustedInput).resize(
                  recipe.width ? { width: recipe.width, height: recipe.width, fit: 'inside', withoutEnlargement: true } : undefined,
                ),
              )
              .toBuffer();
      if (bytes.byteLength > limits.maxRenditionBytes) {
        throw ApplicationFailure.nonRetryable(`rendition ${name} is ${bytes.byteLength} bytes, over ${limits.maxRenditionBytes}`, 'ImageTooLarge');
      }
      const out = await sharp(bytes, untrustedInput).metadata();
      const ref = await addContent(kubo, bytes, { pin: false });
      renditions.push({ ...ref, name, mimeType: recipe.mimeType, width: out.width!, height: out.height! });
    }
    const image = renditions.find((r) => r.name === 'original') ?? renditions[0]!;
    const asset = `${spec.collectionId}/${spec.assetKey}`;
    // Permanent copies first, so that the metadata lists both locations of every rendition.
    const copies = arweave ? await archiveContents(arweave, kubo, renditions, asset, progress) : [];
    const metadata = erc721Metadata(spec, draft, approval, workflowId, image, renditions, copies, version);
    const metadataRef: ContentRef = await addContent(kubo, Buffer.from(JSON.stringify(metadata, null, 2)), { pin: false });
    if (!arweave) return { renditions, metadata: metadataRef };
    const [metadataCopy] = await archiveContents(arweave, kubo, [{ ...metadataRef, mimeType: 'application/json' }], asset, progress);
    return { renditions, metadata: metadataRef, arweave: { metadata: metadataCopy!, renditions: copies } };
  }
}

/** OpenSea-style ERC-721 metadata with the provenance a collector can check. Key order is fixed. */
function erc721Metadata(
  spec: AssetSpec,
  draft: Draft,
  approval: FormatInput['approval'],
  workflowId: string,
  image: Rendition,
  renditions: Rendition[],
  copies: ArweaveCopy[],
  version: FormatInput['version'],
) {
  const arweaveOf = (r: Rendition) => copies.find((c) => c.cid === r.cid);
  const traitAttributes =
    spec.generator.kind === 'layers'
      ? Object.entries((draft.inputs as { traits?: Record<string, string> }).traits ?? {}).map(([trait_type, value]) => ({ trait_type, value }))
      : [];
  return {
    name: spec.name,
    description: spec.description,
    image: `ipfs://${image.cid}`,
    ...(arweaveOf(image) ? { image_arweave: `ar://${arweaveOf(image)!.txId}` } : {}),
    attributes: [...spec.attributes, ...traitAttributes.filter((t) => !spec.attributes.some((a) => a.trait_type === t.trait_type))],
    properties: {
      collection: spec.collectionId,
      assetKey: spec.assetKey,
      renditions: renditions.map((r) => ({
        name: r.name,
        uri: `ipfs://${r.cid}`,
        mimeType: r.mimeType,
        width: r.width,
        height: r.height,
        bytes: r.bytes,
        sha256: r.sha256,
        ...(arweaveOf(r) ? { arweave: `ar://${arweaveOf(r)!.txId}` } : {}),
      })),
      ...(version ? { version: version.number, previousVersions: version.previous.map((cid) => `ipfs://${cid}`) } : {}),
      provenance: {
        generator: spec.generator.kind,
        inputs: draft.inputs,
        draft: { uri: `ipfs://${draft.cid}`, sha256: draft.sha256 },
        approvedBy: approval.by,
        approvedVia: approval.via,
        approvedAt: approval.at,
        round: approval.round,
        workflowId,
        // Anyone can check who approved this image: ed25519 over `signedMessage` with `publicKey`.
        approvalSignature: approval.proof
          ? {
              scheme: approval.proof.scheme,
              signer: approval.proof.signer,
              publicKey: approval.proof.publicKey,
              signature: approval.proof.signature,
              signedMessage: new TextDecoder().decode(decisionMessage(workflowId, { ...approval, draftCid: draft.cid }, 'approve')),
            }
          : null,
        approvalSigned: Boolean(approval.proof),
      },
    },
  };
}
