// Artwork repositories read with git (docs/artwork.md): what changed between two revisions, bringing
// the asset runs in line with it, and one artwork's bytes for its draft. Only repositories within
// ATELIER_REPOSITORIES are read; git runs without a shell, on refs and paths checked first.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import sharp from 'sharp';
import type { ArtworkSource, AssetSpec, ReviseInput } from '../common/asset.ts';
import { assetMessageNames, workflowIdOf } from '../common/asset.ts';
import { checksSchema } from '../common/checks.ts';
import type { RepositoryChange, RepositoryRead, SyncLine } from '../common/repository.ts';
import { ASSETS_DIR, MAX_ASSETS_PER_SYNC, artworkExtensions, commitPattern, refPattern, repositoryLocationProblem } from '../common/repository.ts';
import { checkSpec } from '../common/specSchema.ts';
import { startAssetRun } from './assetRuns.ts';
import { limits, untrustedInput } from './format.ts';
import { heartbeatWhile } from './heartbeat.ts';
import { mapInParallel } from './inParallel.ts';
import { sha256Hex } from './kubo.ts';

export interface RepositoryDependencies {
  /** Absolute paths: repositories, or folders holding them, that workers may read (ATELIER_REPOSITORIES). */
  repositoryRoots: string[];
}

const MAX_SPEC_BYTES = 256 * 1024;
const GIT_TIMEOUT_MS = 60_000;

/** What the revise Update answers. */
export interface Revised {
  round: number;
  /** False when the run already had these bytes (nothing changed). */
  changed: boolean;
}

export function createRepositoryActivities({ repositoryRoots }: RepositoryDependencies) {
  return {
    /** The revision's commit and every asset that differs from `since` (all of them on a first sync). */
    async readRepository(input: { repository: string; ref: string; commit?: string; since: string | null }): Promise<RepositoryRead> {
      const repo = await allowedRepository(input.repository, repositoryRoots);
      return heartbeatWhile(() => readChanges(repo, input.repository, input));
    },

    /** Starts, revises or withdraws each changed asset's run; a retry repeats nothing (Update ids name the commit). */
    async applyRepositoryChanges(input: { commit: string; changes: RepositoryChange[] }): Promise<SyncLine[]> {
      if (!commitPattern.test(input.commit)) throw ApplicationFailure.nonRetryable(`"${String(input.commit).slice(0, 50)}" is not a commit id`, 'InvalidInput');
      const { client, info } = Context.current();
      return heartbeatWhile(() => mapInParallel(input.changes, 4, (change) => applyChange(client, info.taskQueue, input.commit, change)));
    },
  };
}

/** The artwork's bytes as its draft: PNG, JPEG and WebP as committed; SVG drawn at `svgSize`. */
export async function readArtwork(source: ArtworkSource, repositoryRoots: string[]): Promise<{ image: Buffer; inputs: Record<string, unknown> }> {
  const repo = await allowedRepository(source.repository, repositoryRoots);
  const bytes = await readBlob(repo, `${source.commit}:${source.path}`, limits.maxDraftBytes);
  const sha = sha256Hex(bytes);
  if (sha !== source.sha256) {
    throw ApplicationFailure.nonRetryable(`${source.path} at ${source.commit.slice(0, 12)} has sha256 ${sha}, not ${source.sha256}`, 'ArtworkMismatch');
  }
  const inputs = { repository: path.basename(source.repository), commit: source.commit, path: source.path, sha256: source.sha256 };
  if (!source.path.endsWith('.svg')) return { image: bytes, inputs };
  return { image: await rasterise(bytes, source.svgSize), inputs: { ...inputs, svgSize: source.svgSize } };
}

/** The repository's real path, when it lies within one of the roots; a non-retryable failure otherwise. */
async function allowedRepository(location: string, roots: string[]): Promise<string> {
  const problem = repositoryLocationProblem(location);
  if (problem) throw ApplicationFailure.nonRetryable(`repository: ${problem}`, 'InvalidRepository');
  const real = await fs.realpath(location).catch(() => {
    throw ApplicationFailure.nonRetryable(`repository ${location} does not exist on this worker`, 'InvalidRepository');
  });
  const realRoots = await Promise.all(roots.map((root) => fs.realpath(root).catch(() => undefined)));
  if (!realRoots.some((root) => root && (real === root || real.startsWith(root + path.sep)))) {
    throw ApplicationFailure.nonRetryable(
      `repository ${location} is not within ATELIER_REPOSITORIES (${roots.join(', ') || 'none'}): this worker does not read it`,
      'RepositoryNotAllowed',
    );
  }
  return real;
}

/** One asset folder's files at a revision (git object ids). */
interface AssetEntry {
  spec?: string;
  artworks: { path: string; blob: string }[];
}

async function readChanges(repo: string, location: string, input: { ref: string; commit?: string; since: string | null }): Promise<RepositoryRead> {
  const target = input.commit ?? input.ref;
  if (!refPattern.test(target)) throw ApplicationFailure.nonRetryable(`"${target.slice(0, 80)}" is not a branch, tag or commit name`, 'UnknownRef');
  const commit = (await git(repo, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${target}^{commit}`]).catch(() => undefined))?.toString().trim();
  if (!commit || !commitPattern.test(commit)) throw ApplicationFailure.nonRetryable(`no revision "${target}" in ${location}`, 'UnknownRef');
  const now = await assetEntries(repo, commit);
  const since = input.since && commitPattern.test(input.since) ? input.since : null;
  // A revision the repository no longer has (history rewritten and collected) counts as nothing synced.
  const before = since === commit ? now.assets : since ? (await assetEntries(repo, since).catch(() => undefined))?.assets : undefined;
  const changes: RepositoryChange[] = [];
  for (const [key, entry] of now.assets) {
    const was = before?.get(key);
    if (was && sameEntry(was, entry)) continue;
    const [collectionId, assetKey] = key.split('/') as [string, string];
    changes.push({ collectionId, assetKey, kind: was ? 'changed' : 'added' });
  }
  for (const key of before?.keys() ?? []) {
    if (now.assets.has(key)) continue;
    const [collectionId, assetKey] = key.split('/') as [string, string];
    changes.push({ collectionId, assetKey, kind: 'removed' });
  }
  if (changes.length > MAX_ASSETS_PER_SYNC) {
    throw ApplicationFailure.nonRetryable(
      `${changes.length} assets changed; one sync takes at most ${MAX_ASSETS_PER_SYNC}: sync the history in steps (--ref)`,
      'TooManyChanges',
    );
  }
  changes.sort((a, b) => `${a.collectionId}/${a.assetKey}`.localeCompare(`${b.collectionId}/${b.assetKey}`));
  for (const change of changes) {
    if (change.kind === 'removed') continue;
    const entry = now.assets.get(`${change.collectionId}/${change.assetKey}`)!;
    const made = await specOf(repo, location, commit, change.collectionId, change.assetKey, entry, now.checks.get(change.collectionId));
    if ('problems' in made) change.problems = made.problems;
    else change.spec = made.spec;
  }
  return { commit, changes };
}

const sameEntry = (a: AssetEntry, b: AssetEntry) =>
  a.spec === b.spec && a.artworks.length === b.artworks.length && a.artworks.every((w, i) => w.path === b.artworks[i]!.path && w.blob === b.artworks[i]!.blob);

/** The asset folders and collection checks files of a revision, by `collection/key` and collection. */
async function assetEntries(repo: string, commit: string): Promise<{ assets: Map<string, AssetEntry>; checks: Map<string, string> }> {
  const listing = (await git(repo, ['ls-tree', '-r', '-z', '--full-tree', commit, '--', ASSETS_DIR])).toString('utf8');
  const assets = new Map<string, AssetEntry>();
  const checks = new Map<string, string>();
  for (const line of listing.split('\0')) {
    const match = /^\d+ blob ([0-9a-f]{40,64})\t(.+)$/.exec(line);
    if (!match) continue;
    const [, blob, file] = match as unknown as [string, string, string];
    const parts = file.split('/');
    if (parts.length === 3 && parts[2] === 'checks.json') checks.set(parts[1]!, blob);
    if (parts.length !== 4) continue;
    const key = `${parts[1]}/${parts[2]}`;
    const entry = assets.get(key) ?? { artworks: [] };
    if (parts[3] === 'asset.json') entry.spec = blob;
    else if (artworkExtensions.some((ext) => parts[3] === `artwork.${ext}`)) entry.artworks.push({ path: file, blob });
    else continue;
    assets.set(key, entry);
  }
  return { assets, checks };
}

/** The asset's spec from its folder: asset.json, the artwork as generator, the collection's checks. */
async function specOf(
  repo: string,
  location: string,
  commit: string,
  collectionId: string,
  assetKey: string,
  entry: AssetEntry,
  checksBlob: string | undefined,
): Promise<{ spec: AssetSpec } | { problems: string[] }> {
  const problems: string[] = [];
  if (!entry.spec) problems.push('no asset.json beside the artwork');
  if (entry.artworks.length === 0) problems.push(`no artwork.<${artworkExtensions.join('|')}> beside asset.json`);
  if (entry.artworks.length > 1) problems.push(`more than one artwork: ${entry.artworks.map((a) => path.basename(a.path)).join(', ')}`);
  if (problems.length) return { problems };
  const fields = jsonObject(await readBlob(repo, entry.spec!, MAX_SPEC_BYTES, 'asset.json'), 'asset.json', problems);
  if ('generator' in fields) problems.push('asset.json: no "generator" here: the artwork beside it is the generator');
  for (const [field, value] of [
    ['collectionId', collectionId],
    ['assetKey', assetKey],
  ] as const) {
    if (field in fields && fields[field] !== value) problems.push(`asset.json: ${field} "${String(fields[field])}" differs from its folder (${value})`);
  }
  let checks: unknown;
  if (checksBlob) {
    const parsed = checksSchema.safeParse(jsonObject(await readBlob(repo, checksBlob, MAX_SPEC_BYTES, 'checks.json'), 'checks.json', problems));
    if (parsed.success) checks = parsed.data;
    else problems.push(...parsed.error.issues.map((i) => `checks.json: ${i.path.join('.') || '(file)'}: ${i.message}`));
  }
  if (problems.length) return { problems };
  const artwork = entry.artworks[0]!;
  const bytes = await readBlob(repo, artwork.blob, limits.maxDraftBytes, artwork.path);
  const { svgSize, generator: _ignored, ...rest } = fields;
  const checked = checkSpec({
    ...rest,
    collectionId,
    assetKey,
    generator: { kind: 'artwork', repository: location, commit, path: artwork.path, sha256: sha256Hex(bytes), ...(svgSize === undefined ? {} : { svgSize }) },
    ...(checks ? { checks } : {}),
  });
  return checked.ok ? { spec: checked.spec } : { problems: checked.problems.map((p) => `asset.json: ${p.replace(/^generator\.svgSize/, 'svgSize')}`) };
}

function jsonObject(bytes: Buffer, name: string, problems: string[]): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
    problems.push(`${name}: expected a JSON object`);
  } catch (error) {
    problems.push(`${name} is not JSON: ${(error as Error).message}`);
  }
  return {};
}

async function applyChange(client: Client, taskQueue: string, commit: string, change: RepositoryChange): Promise<SyncLine> {
  const workflowId = workflowIdOf(change.collectionId, change.assetKey);
  const short = commit.slice(0, 12);
  const line = (action: SyncLine['action'], detail: string, round?: number): SyncLine => ({
    collectionId: change.collectionId,
    assetKey: change.assetKey,
    workflowId,
    action,
    detail,
    ...(round === undefined ? {} : { round }),
  });
  if (change.problems?.length) return line('invalid', change.problems.join('; '));
  const handle = client.workflow.getHandle(workflowId);
  try {
    if (change.kind === 'removed') {
      await handle.executeUpdate(assetMessageNames.cancel, {
        args: [{ by: `repository@${short}`, reason: `removed from the repository at ${short}` }],
        updateId: `withdraw-${commit}`,
      });
      return line('withdrawn', `removed at ${short}: its run is cancelled`);
    }
    const spec = change.spec as AssetSpec;
    const started = await startAssetRun(client, taskQueue, spec);
    switch (started.outcome) {
      case 'started':
        return line('started', 'a new run', 1);
      case 'restarted':
        return line('restarted', `a new run (the earlier one ended ${started.previous!.stage})`, 1);
      case 'minted':
        return line('kept', 'already minted: new artwork does not change a minted token');
      case 'running': {
        const revise: ReviseInput = { spec, by: `repository@${short}` };
        const revised = (await handle.executeUpdate(assetMessageNames.revise, { args: [revise], updateId: `revise-${commit}` })) as Revised;
        return revised.changed
          ? line('revised', `round ${revised.round} shows the new artwork`, revised.round)
          : line('unchanged', `same artwork (round ${revised.round})`, revised.round);
      }
    }
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) return line('kept', (error.cause as Error | undefined)?.message ?? error.message);
    if (change.kind === 'removed' && (error instanceof WorkflowNotFoundError || /already completed/i.test((error as Error).message))) {
      return line('unchanged', 'removed; it has no running run');
    }
    throw error;
  }
}

/** An SVG drawn at `size` px on its longer side (its own 72 dpi size scaled up, so it stays sharp). */
async function rasterise(svg: Buffer, size: number): Promise<Buffer> {
  try {
    const meta = await sharp(svg, untrustedInput).metadata();
    const longer = Math.max(meta.width ?? size, meta.height ?? size);
    const density = Math.min(2400, Math.max(1, (72 * size) / longer));
    return await sharp(svg, { ...untrustedInput, density })
      .resize(size, size, { fit: 'inside' })
      .png()
      .toBuffer();
  } catch (error) {
    throw ApplicationFailure.nonRetryable(`the SVG artwork cannot be drawn: ${(error as Error).message}`, 'InvalidArtwork');
  }
}

/** A blob's bytes, refused (for good) when larger than `max`. */
async function readBlob(repo: string, object: string, max: number, name = object): Promise<Buffer> {
  const size = Number((await git(repo, ['cat-file', '-s', object])).toString().trim());
  if (!(size <= max)) throw ApplicationFailure.nonRetryable(`${name} is ${size} bytes; at most ${max} are read`, 'ArtworkTooLarge');
  return git(repo, ['cat-file', 'blob', object], max + 1024);
}

function git(repo: string, args: string[], maxBuffer = 64 * 1024 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      ['-C', repo, ...args],
      { encoding: 'buffer', maxBuffer, timeout: GIT_TIMEOUT_MS, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`git ${args[0]}: ${stderr.toString().trim() || error.message}`));
        else resolve(stdout);
      },
    );
  });
}
