// collection: what a collection run needs from outside its workflow: the worker's settings, the
// layer set's structure, the publication (provenance hash, contact sheet, collection metadata set as
// contractURI) and the final report. Facts about each asset are read from its own run and from IPFS,
// never taken from the signals that reached the collection.
import { ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Signer } from 'ethers';
import type { KuboRPCClient } from 'kubo-rpc-client';
import { CID } from 'multiformats/cid';
import { finalStages, workflowIdOf } from '../common/asset.ts';
import type { CollectionReportRef, CollectionSettings, Published } from '../common/collection.ts';
import type { CollectionSpec } from '../common/collectionSpec.ts';
import { structureOfOpenAIGenerator } from '../common/collectionSpec.ts';
import type { TraitStructure } from '../common/dna.ts';
import { deriveDna, dnaString, provenanceHashOf, rarityOf, traitsOfDna } from '../common/dna.ts';
import { loadLayerSet, traitStructureOf } from '../common/layerSet.ts';
import { AtelierContentCid, AtelierStage, AtelierTokenId } from '../common/searchAttributes.ts';
import { connectCreativeAsset, pinDirectory } from '../contracts/index.ts';
import { renderContactSheet } from './contactSheet.ts';
import { mapInParallel } from './inParallel.ts';
import { addContent, kuboSignal, readContent } from './kubo.ts';

export interface CollectionDependencies {
  kubo: KuboRPCClient;
  signer: Signer;
  contractAddress: string;
  collection: CollectionSettings;
}

/** One asset as its run and its metadata show it. */
interface AssetFacts {
  index: number;
  stage: string | null;
  tokenId: number | null;
  metadataCid: string | null;
  imageSha256: string | null;
  draftCid: string | null;
  attributes: { trait_type: string; value: unknown }[];
  /** The run is open and its stage is not a final one. */
  running: boolean;
}

const READ_CONCURRENCY = 16;
const CONTACT_SHEET_SIZE = 64;

export function createCollectionActivities({ kubo, signer, contractAddress, collection }: CollectionDependencies) {
  const contract = connectCreativeAsset(contractAddress, signer);

  /** The asset's run (described, no worker needed) and, once formatted, its metadata from IPFS. */
  async function factsOf(spec: CollectionSpec, index: number): Promise<AssetFacts> {
    const facts: AssetFacts = { index, stage: null, tokenId: null, metadataCid: null, imageSha256: null, draftCid: null, attributes: [], running: false };
    let description;
    try {
      description = await Context.current()
        .client.workflow.getHandle(workflowIdOf(spec.id, String(index + 1)))
        .describe();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return facts;
      throw error;
    }
    const attributes = description.typedSearchAttributes;
    facts.stage = attributes.get(AtelierStage) ?? null;
    facts.tokenId = attributes.get(AtelierTokenId) ?? null;
    // A run that has set its final stage is ending (its report to the collection is under way).
    facts.running = description.status.name === 'RUNNING' && !(finalStages as readonly string[]).includes(facts.stage ?? '');
    const contentCid = attributes.get(AtelierContentCid) ?? null;
    // Before formatting the content CID is the draft's; after it, the metadata's.
    if (contentCid && ['awaiting_mint', 'minting', 'minted'].includes(facts.stage ?? '')) {
      const metadata = JSON.parse((await readContent(kubo, contentCid)).toString('utf8')) as {
        attributes?: AssetFacts['attributes'];
        properties?: { renditions?: { name: string; sha256: string }[]; provenance?: { draft?: { uri?: string } } };
      };
      facts.metadataCid = contentCid;
      facts.imageSha256 = metadata.properties?.renditions?.find((r) => r.name === 'original')?.sha256 ?? null;
      facts.draftCid = metadata.properties?.provenance?.draft?.uri?.replace('ipfs://', '') ?? null;
      facts.attributes = metadata.attributes ?? [];
    }
    return facts;
  }

  /** Facts of many assets, READ_CONCURRENCY at a time, heartbeating the count done. */
  async function allFacts(spec: CollectionSpec, indices: number[]): Promise<AssetFacts[]> {
    return mapInParallel(
      indices,
      READ_CONCURRENCY,
      (index) => factsOf(spec, index),
      (done) => {
        if (done % 50 === 0) heartbeat({ read: done, of: indices.length });
      },
    );
  }

  return {
    async collectionSettings(): Promise<CollectionSettings> {
      return collection;
    },

    /** The layers, options, weights and exclusions DNA is drawn from. */
    async collectionStructure({ generator }: { generator: CollectionSpec['generator'] }): Promise<TraitStructure> {
      if (generator.kind === 'openai') return structureOfOpenAIGenerator(generator);
      try {
        return traitStructureOf(loadLayerSet(generator.layerSet));
      } catch (error) {
        throw ApplicationFailure.nonRetryable(`generator.layerSet: ${(error as Error).message}`, 'InvalidLayerSet');
      }
    },

    /**
     * The provenance hash over the ready assets' original images in collection (= token) order, the
     * contact sheet of the first drafts, and the collection metadata, pinned and set as contractURI
     * (with the royalty). Assets whose runs are not ready after all come back in `notReady`.
     * Idempotent: the same images give the same hash and CIDs; the chain is written only if it differs.
     */
    async publishCollection({
      spec,
      indices,
    }: {
      spec: CollectionSpec;
      indices: number[];
    }): Promise<{ published: Published; notReady: { index: number; stage: string | null }[] }> {
      const sorted = [...indices].sort((a, b) => a - b);
      const facts = await allFacts(spec, sorted);
      const notReady = facts.filter((f) => f.stage !== 'awaiting_mint' || !f.imageSha256).map((f) => ({ index: f.index, stage: f.stage }));
      const empty: Published = { provenanceHash: '', count: 0, collectionMetadataCid: '', contactSheetCid: null, contractURI: '', at: '' };
      if (notReady.length > 0) return { published: empty, notReady };
      const provenanceHash = provenanceHashOf(facts.map((f) => f.imageSha256!));

      const sheetDrafts = facts.slice(0, CONTACT_SHEET_SIZE).filter((f) => f.draftCid);
      const images = await Promise.all(sheetDrafts.map((f) => readContent(kubo, f.draftCid!)));
      const sheet = images.length ? await addContent(kubo, await renderContactSheet(images), { pin: true }) : null;

      const metadata = {
        name: spec.name,
        description: spec.description,
        image: spec.metadata?.image ?? (sheet ? `ipfs://${sheet.cid}` : undefined),
        banner_image: spec.metadata?.banner_image,
        external_link: spec.metadata?.external_link,
        collaborators: spec.metadata?.collaborators,
        seller_fee_basis_points: spec.royalties?.basisPoints ?? 0,
        fee_recipient: spec.royalties?.receiver,
        provenance: {
          hash: provenanceHash,
          scheme: 'sha256 of the concatenated lowercase hex sha256 of the original image of each token, in token-id order',
          count: facts.length,
        },
        atelier: { collectionId: spec.id, size: spec.size, seed: spec.seed },
      };
      // Raw block (under 256 KiB): the same JSON always has the same CID.
      const stored = await addContent(kubo, Buffer.from(JSON.stringify(metadata, null, 2)), { pin: true });
      const contractURI = `ipfs://${stored.cid}`;
      heartbeat({ setting: 'contractURI' });
      if ((await contract.contractURI()) !== contractURI) await (await contract.setContractURI(contractURI)).wait();
      if (spec.royalties) {
        const [receiver, amount] = await contract.royaltyInfo(1n, 10_000n);
        if (receiver.toLowerCase() !== spec.royalties.receiver.toLowerCase() || amount !== BigInt(spec.royalties.basisPoints)) {
          await (await contract.setDefaultRoyalty(spec.royalties.receiver, spec.royalties.basisPoints)).wait();
        }
      }
      return {
        published: {
          provenanceHash,
          count: facts.length,
          collectionMetadataCid: stored.cid,
          contactSheetCid: sheet?.cid ?? null,
          contractURI,
          at: new Date().toISOString(),
        },
        notReady: [],
      };
    },

    /**
     * The report, from every asset's run and metadata: each trait's count and frequency, each asset's
     * rarity score, rank, token and metadata; the provenance hash recomputed from the minted tokens in
     * token-id order; every token's metadata under one directory named by token id. JSON and CSV, pinned.
     */
    async collectionReport({
      spec,
      structure,
      published,
    }: {
      spec: CollectionSpec;
      structure: TraitStructure;
      published: Published | null;
    }): Promise<CollectionReportRef> {
      const plan = deriveDna(structure, spec.size, spec.seed);
      if (!plan.ok) throw ApplicationFailure.nonRetryable(plan.reason, 'ImpossibleCollection');
      const facts = await allFacts(
        spec,
        Array.from({ length: spec.size }, (_, i) => i),
      );
      const rarity = rarityOf(structure, plan.dna);
      const minted = facts.filter((f) => f.stage === 'minted' && f.tokenId !== null && f.metadataCid).sort((a, b) => a.tokenId! - b.tokenId!);
      const recomputed = minted.length > 0 && minted.every((f) => f.imageSha256) ? provenanceHashOf(minted.map((f) => f.imageSha256!)) : null;
      const root = minted.length
        ? await pinDirectory(
            kubo,
            await Promise.all(
              minted.map(async (f) => ({
                name: String(f.tokenId),
                cid: f.metadataCid!,
                size: (await kubo.block.stat(CID.parse(f.metadataCid!), { signal: kuboSignal() })).size,
              })),
            ),
            { signal: kuboSignal() },
          )
        : null;
      const assets = facts.map((f) => {
        const r = rarity.assets[f.index]!;
        return {
          index: f.index,
          assetKey: String(f.index + 1),
          dna: dnaString(plan.dna[f.index]!),
          traits: traitsOfDna(structure, plan.dna[f.index]!),
          rarityScore: r.score,
          rank: r.rank,
          stage: f.stage ?? 'not started',
          tokenId: f.tokenId === null ? null : String(f.tokenId),
          metadataCid: f.metadataCid,
          imageSha256: f.imageSha256,
        };
      });
      const report = {
        collectionId: spec.id,
        name: spec.name,
        size: spec.size,
        seed: spec.seed,
        contract: contractAddress,
        provenanceHash: published?.provenanceHash ?? null,
        provenanceCount: published?.count ?? 0,
        recomputedProvenanceHash: recomputed,
        tokenOrderMatchesProvenance: Boolean(published && recomputed === published.provenanceHash && minted.length === published.count),
        collectionMetadataCid: published?.collectionMetadataCid ?? null,
        contractURI: published?.contractURI ?? null,
        contactSheetCid: published?.contactSheetCid ?? null,
        metadataRootCid: root?.toString() ?? null,
        minted: minted.length,
        traits: rarity.traits,
        assets,
      };
      const json = await addContent(kubo, Buffer.from(JSON.stringify(report, null, 2)), { pin: true });
      const csv = await addContent(kubo, Buffer.from(reportCsv(structure, report)), { pin: true });
      return {
        reportCid: json.cid,
        reportCsvCid: csv.cid,
        metadataRootCid: report.metadataRootCid,
        minted: minted.length,
        tokenOrderMatchesProvenance: report.tokenOrderMatchesProvenance,
        stillRunning: facts.filter((f) => f.running).map((f) => ({ index: f.index, stage: f.stage })),
      };
    },
  };
}

/** Two tables, a blank line apart: traits (count, frequency), then assets (rarity, token, traits). */
function reportCsv(
  structure: TraitStructure,
  report: {
    traits: { layer: string; option: string; count: number; frequency: number }[];
    assets: {
      assetKey: string;
      tokenId: string | null;
      stage: string;
      rarityScore: number;
      rank: number;
      metadataCid: string | null;
      traits: Record<string, string>;
    }[];
  },
): string {
  const cell = (v: unknown) => {
    const text = v === null || v === undefined ? '' : String(v);
    return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const rows = [['layer', 'option', 'count', 'frequency'].join(',')];
  for (const t of report.traits) rows.push([t.layer, t.option, t.count, t.frequency].map(cell).join(','));
  rows.push('');
  const layers = structure.layers.map((l) => l.name);
  rows.push(['assetKey', 'tokenId', 'stage', 'rarityScore', 'rank', 'metadataCid', ...layers].map(cell).join(','));
  for (const a of report.assets)
    rows.push([a.assetKey, a.tokenId, a.stage, a.rarityScore, a.rank, a.metadataCid, ...layers.map((l) => a.traits[l])].map(cell).join(','));
  return rows.join('\n') + '\n';
}
