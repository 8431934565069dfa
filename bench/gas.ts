/**
 * Gas per token of CreativeAsset against an OpenZeppelin ERC721URIStorage reference, measured on a
 * throwaway Anvil: `npm run bench:gas`.
 *
 * Both contracts are deployed in the same run and mint to the same fresh recipient. CreativeAsset
 * rows: a single `mint`, then `mintBatch` of 10 and 50 continuing the same collection, each with its
 * content root built by the real helper (from placeholder metadata CIDs; the digest's value does not
 * change gas). "first" rows are the first mint on a fresh contract to a fresh recipient.
 *
 * Transfers: what a collector pays for the first `transferFrom` of a token, to an address that holds
 * none yet, against the reference's same transfer. Every token of three batches is transferred once:
 * the batch of 50 above (inside one 256-token word of the record-start bitmap), a batch of 128 and a
 * batch of 50 that both straddle a word boundary (the owner lookup's worst case: one more word). The
 * worst case at batch 50 is the largest of the two batches of 50.
 */
import { ContractFactory, JsonRpcProvider, getAddress, id as keccakOfText } from 'ethers';
import type { ContractTransactionResponse, JsonRpcSigner } from 'ethers';
import * as Reference from '../contracts/build/ReferenceERC721URIStorage.ts';
import type { ReferenceERC721URIStorageContract } from '../contracts/build/ReferenceERC721URIStorage.ts';
import { assetIdOf, buildBatchDirectory, connectCreativeAsset, deployCreativeAsset, directoryDigestFromCid, rawCidFromDigest } from '../contracts/index.ts';
import type { CreativeAssetContract } from '../contracts/index.ts';
import { startAnvil } from './gas-anvil.ts';
import { printTable } from '../client/printTable.ts';

const COLLECTION = 'bench-collection';

async function gasOf(pending: Promise<ContractTransactionResponse>): Promise<bigint> {
  const receipt = await (await pending).wait();
  if (!receipt || receipt.status !== 1) throw new Error('benchmark transaction failed');
  return receipt.gasUsed;
}

/** A deterministic placeholder metadata digest per asset (gas does not depend on its value). */
function placeholderDigest(seed: number): `0x${string}` {
  return `0x${(BigInt(seed + 1) * 0x9e3779b97f4a7c15f39cc0605cedc834n).toString(16).padStart(64, '0').slice(-64)}`;
}

async function contentRootFor(assetIndexes: number[]): Promise<string> {
  const entries = assetIndexes.map((index) => ({ cid: rawCidFromDigest(placeholderDigest(index)), size: 512 }));
  const { cid } = await buildBatchDirectory(entries);
  return directoryDigestFromCid(cid);
}

/**
 * The i-th address that holds no token yet, deterministic and free of zero bytes so that every
 * transfer pays the same calldata whichever address it goes to.
 */
function freshAddress(i: number): string {
  const hex = keccakOfText(`atelier-bench-collector-${i}`).slice(26);
  return getAddress(`0x${hex.replace(/../g, (byte) => (byte === '00' ? '11' : byte))}`);
}

interface Row {
  label: string;
  call: string;
  tokens: number;
  gasPerToken: number;
  referenceGasPerToken: number;
}

async function main(): Promise<void> {
  const anvil = await startAnvil();
  try {
    const provider = new JsonRpcProvider(anvil.rpcUrl, undefined, { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 });
    const deployer = await provider.getSigner(0);
    const recipientSigner: JsonRpcSigner = await provider.getSigner(1);
    const recipient = await recipientSigner.getAddress();
    const secondHolder = await provider.getSigner(2);
    let freshCount = 0;
    const nextFresh = () => freshAddress(freshCount++);

    const { address } = await deployCreativeAsset(deployer, {
      name: 'Bench',
      symbol: 'BNCH',
      contractURI: 'ipfs://bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
      royaltyReceiver: await deployer.getAddress(),
      royaltyBps: 500,
    });
    const creative: CreativeAssetContract = connectCreativeAsset(address, deployer);

    const referenceFactory = new ContractFactory(Reference.abi, Reference.bytecode, deployer);
    const referenceDeployment = await referenceFactory.deploy(await deployer.getAddress());
    await referenceDeployment.waitForDeployment();
    const reference = referenceDeployment as unknown as ReferenceERC721URIStorageContract;
    const referenceUri = (seed: number) => `ipfs://${rawCidFromDigest(placeholderDigest(seed))}`;

    // Reference: first mint (fresh counter, fresh recipient) and a subsequent one.
    const referenceFirst = Number(await gasOf(reference.safeMint(recipient, referenceUri(0))));
    const referenceNext = Number(await gasOf(reference.safeMint(recipient, referenceUri(1))));

    let nextAssetIndex = 0;
    const nextAssets = (count: number) => {
      const indexes = Array.from({ length: count }, (_, i) => nextAssetIndex + i);
      nextAssetIndex += count;
      return indexes;
    };
    const mintOne = async () => {
      const [index] = nextAssets(1);
      return Number(await gasOf(creative.mint(recipient, assetIdOf(COLLECTION, String(index)), placeholderDigest(index!))));
    };
    const mintMany = async (count: number, collection = COLLECTION) => {
      const indexes = collection === COLLECTION ? nextAssets(count) : Array.from({ length: count }, (_, i) => i);
      const root = await contentRootFor(indexes);
      const assetIds = indexes.map((index) => assetIdOf(collection, String(index)));
      return Number(await gasOf(creative.mintBatch(recipient, assetIds, root))) / count;
    };

    const first = await mintOne();
    const single = await mintOne();
    const batch10 = await mintMany(10);
    const batch50First = await creative.nextTokenId();
    const batch50 = await mintMany(50);
    // A collection's first batch also pays for its first bitmap word (zero to nonzero).
    const batch50NewCollection = await mintMany(50, `${COLLECTION}-2`);

    // What the minter's idempotency check and a marketplace's tokenURI cost (eth_call gas).
    const middleOfBatch = assetIdOf(COLLECTION, String(nextAssetIndex - 25));
    const tokenOfAssetGas = await creative.tokenOfAsset.estimateGas(middleOfBatch);
    const tokenUriGas = await creative.tokenURI.estimateGas(await creative.tokenOfAsset(middleOfBatch));

    // ---- transfers ----
    const tokenRange = (first: bigint, count: number) => Array.from({ length: count }, (_, i) => first + BigInt(i));
    const batch50Tokens = tokenRange(batch50First, 50);
    // Straddle word boundaries of the record-start bitmap (256 tokens a word): filler, a batch of
    // 128 over token 256, filler, then a batch of 50 over token 512.
    const fillTo = async (tokenId: bigint) => {
      for (let left = Number(tokenId - (await creative.nextTokenId())); left > 0; left -= Math.min(left, 128)) await mintMany(Math.min(left, 128));
      if ((await creative.nextTokenId()) !== tokenId) throw new Error(`benchmark layout: cannot start a batch at token ${tokenId}`);
    };
    await fillTo(256n - 64n);
    const batch128Tokens = tokenRange(await creative.nextTokenId(), 128);
    await mintMany(128);
    await fillTo(512n - 25n);
    const straddling50Tokens = tokenRange(await creative.nextTokenId(), 50);
    await mintMany(50);
    // What a marketplace pays to read the owner of a batch's last, never transferred token.
    const ownerOfGas = await creative.ownerOf.estimateGas(batch128Tokens.at(-1)!);

    const referenceAs = (signer: JsonRpcSigner) => reference.connect(signer) as unknown as ReferenceERC721URIStorageContract;
    const creativeAs = (signer: JsonRpcSigner) => connectCreativeAsset(address, signer);
    // Reference token 1 (token 0 is kept for the later transfer): its first and only transfer.
    const referenceTransfer = Number(await gasOf(referenceAs(recipientSigner).transferFrom(recipient, nextFresh(), 1n)));
    // Each token's first transfer is measured on the untouched chain (an Anvil snapshot, reverted
    // after each), so no transfer benefits from ownership slots an earlier one wrote.
    const firstTransfers = async (tokens: bigint[]) => {
      const gas: number[] = [];
      for (const tokenId of tokens) {
        const snapshot = (await provider.send('evm_snapshot', [])) as string;
        const to = nextFresh();
        gas.push(Number(await gasOf(creativeAs(recipientSigner).transferFrom(recipient, to, tokenId))));
        if ((await creative.ownerOf(tokenId)) !== to) throw new Error(`token ${tokenId} did not reach ${to}`);
        if ((await provider.send('evm_revert', [snapshot])) !== true) throw new Error('evm_revert failed');
      }
      return gas;
    };
    const transfers = [
      { label: 'batch 50, in one bitmap word', tokens: batch50Tokens, gas: await firstTransfers(batch50Tokens) },
      { label: 'batch 50, across a word', tokens: straddling50Tokens, gas: await firstTransfers(straddling50Tokens) },
      { label: 'batch 128, across a word', tokens: batch128Tokens, gas: await firstTransfers(batch128Tokens) },
    ];
    // A later transfer (the token already has its own owner slot), both contracts: holder -> second -> fresh.
    const secondAddress = await secondHolder.getAddress();
    await gasOf(referenceAs(recipientSigner).transferFrom(recipient, secondAddress, 0n));
    const referenceLater = Number(await gasOf(referenceAs(secondHolder).transferFrom(secondAddress, nextFresh(), 0n)));
    const laterToken = 1n; // the first single mint, not transferred above
    await gasOf(creativeAs(recipientSigner).transferFrom(recipient, secondAddress, laterToken));
    const creativeLater = Number(await gasOf(creativeAs(secondHolder).transferFrom(secondAddress, nextFresh(), laterToken)));

    const rows: Row[] = [
      { label: 'first mint', call: 'mint', tokens: 1, gasPerToken: first, referenceGasPerToken: referenceFirst },
      { label: 'single', call: 'mint', tokens: 1, gasPerToken: single, referenceGasPerToken: referenceNext },
      { label: 'batch', call: 'mintBatch', tokens: 10, gasPerToken: batch10, referenceGasPerToken: referenceNext },
      { label: 'batch', call: 'mintBatch', tokens: 50, gasPerToken: batch50, referenceGasPerToken: referenceNext },
      {
        label: 'new collection',
        call: 'mintBatch',
        tokens: 50,
        gasPerToken: batch50NewCollection,
        referenceGasPerToken: referenceNext,
      },
    ];

    const ratio = (gas: number, referenceGas: number) => (gas / referenceGas).toFixed(4);

    console.log(`reference ERC721URIStorage.safeMint: first ${referenceFirst}, subsequent ${referenceNext} gas`);
    printTable(
      ['tokens per call', 'call', 'gas per token', 'reference gas per token', 'ratio'],
      rows.map((row) => [
        `${row.tokens} (${row.label})`,
        row.call,
        Math.round(row.gasPerToken).toString(),
        row.referenceGasPerToken.toString(),
        ratio(row.gasPerToken, row.referenceGasPerToken),
      ]),
    );
    console.log(`views (eth_call gas, incl. 21000 base): tokenOfAsset ${tokenOfAssetGas}, tokenURI ${tokenUriGas}, ownerOf ${ownerOfGas}`);

    console.log('');
    console.log(`reference transferFrom to a new holder: ${referenceTransfer} gas; a later transfer: ${referenceLater}`);
    const worstOf = (gas: number[], tokens: bigint[]) => {
      const worst = Math.max(...gas);
      return { worst, tokenId: tokens[gas.indexOf(worst)]! };
    };
    printTable(
      ['first transfer of each token', 'tokens', 'first', 'middle', 'last', 'worst (token)', 'worst ratio'],
      transfers.map(({ label, tokens, gas }) => {
        const { worst, tokenId } = worstOf(gas, tokens);
        return [
          label,
          `${tokens[0]}..${tokens.at(-1)}`,
          gas[0]!.toString(),
          gas[Math.floor(gas.length / 2)]!.toString(),
          gas.at(-1)!.toString(),
          `${worst} (${tokenId})`,
          ratio(worst, referenceTransfer),
        ];
      }),
    );
    console.log(`a later transfer (the token's second): ${creativeLater} gas (ratio ${ratio(creativeLater, referenceLater)} to the reference's)`);
    const worstAt50 = Math.max(...transfers.filter((t) => t.tokens.length === 50).flatMap((t) => t.gas));
    console.log(`first transfer, worst case at batch 50: ${worstAt50} (ratio ${ratio(worstAt50, referenceTransfer)} to the reference)`);
    console.log(`gas per token at batch 50: ${Math.round(batch50)} (ratio ${ratio(batch50, referenceNext)} to the reference)`);
  } finally {
    anvil.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
