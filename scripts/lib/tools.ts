// Finds the server binaries the local stack needs, building the pinned Go ones on first use.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { projectRoot } from '../../common/config.ts';

export const toolsBinDir = path.join(projectRoot, '.tools', 'bin');

type GoToolName = 'temporal' | 'ipfs' | ClusterToolName;
/** The full Temporal server, its schema tool and the Web UI server: only the cluster suite (scripts/lib/cluster.ts) needs them. */
export type ClusterToolName = 'temporal-server' | 'temporal-sql-tool' | 'ui-server';

interface GoTool {
  name: GoToolName;
  /** Folder under tools/ holding the pinning go.mod. */
  module: string;
  pkg: string;
  version: string;
  versionArgs: string[];
  /** As the project's own release build sets them (the version is stamped at link time). */
  ldflags: string;
}

const goTools: Record<GoToolName, GoTool> = {
  temporal: {
    name: 'temporal',
    module: 'temporal',
    pkg: 'github.com/temporalio/cli/cmd/temporal',
    version: '1.5.1',
    versionArgs: ['--version'],
    ldflags: '-s -w -X github.com/temporalio/cli/temporalcli.Version=1.5.1',
  },
  ipfs: { name: 'ipfs', module: 'kubo', pkg: 'github.com/ipfs/kubo/cmd/ipfs', version: '0.42.0', versionArgs: ['version'], ldflags: '-s -w' },
  // Pinned by tools/temporal-server/go.mod, whose require block is the CLI's (server v1.29.1: a bare
  // require resolves a newer server that wants a newer Go).
  'temporal-server': {
    name: 'temporal-server',
    module: 'temporal-server',
    pkg: 'go.temporal.io/server/cmd/server',
    version: '1.29.1',
    versionArgs: ['--version'],
    ldflags: '-s -w',
  },
  'temporal-sql-tool': {
    name: 'temporal-sql-tool',
    module: 'temporal-server',
    pkg: 'go.temporal.io/server/cmd/tools/sql',
    version: '1.29.1',
    versionArgs: ['--version'],
    ldflags: '-s -w',
  },
  'ui-server': {
    name: 'ui-server',
    module: 'temporal-server',
    pkg: 'github.com/temporalio/ui-server/v2/cmd/server',
    version: '2.42.1',
    versionArgs: ['--version'],
    ldflags: '-s -w',
  },
};

function versionOf(binary: string, args: string[]): string | undefined {
  try {
    return execFileSync(binary, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 });
  } catch {
    return undefined;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** The pinned go.mod + go.sum, hashed: a rebuilt pin invalidates the built binary. */
function pinHash(tool: GoTool): string {
  const dir = path.join(projectRoot, 'tools', tool.module);
  const hash = createHash('sha256');
  for (const file of ['go.mod', 'go.sum']) hash.update(fs.readFileSync(path.join(dir, file)));
  return hash.digest('hex');
}

async function goBuild(tool: GoTool, output: string): Promise<void> {
  const go = onPath('go');
  if (!go) {
    throw new Error(
      `Cannot build ${tool.name} ${tool.version}: no Go toolchain on PATH.\n` +
        `Install Go 1.26 or newer (https://go.dev/dl/ or your distribution's golang package), ` +
        `or put a ${tool.name} ${tool.version} binary on PATH, or run the stack with docker-compose.yml instead.`,
    );
  }
  fs.mkdirSync(path.dirname(output), { recursive: true });
  const started = Date.now();
  console.log(`[tools] building ${tool.name} ${tool.version} from tools/${tool.module} (first time only; takes minutes)...`);
  const child = spawn(go, ['build', '-trimpath', `-ldflags=${tool.ldflags}`, '-o', output, tool.pkg], {
    cwd: path.join(projectRoot, 'tools', tool.module),
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const ticker = setInterval(() => {
    console.log(`[tools]   still building ${tool.name}... ${Math.round((Date.now() - started) / 1000)} s`);
  }, 30_000);
  try {
    const code: number = await new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (c) => resolve(c ?? 1));
    });
    if (code !== 0) throw new Error(`go build of ${tool.pkg} failed with exit code ${code} (output above)`);
  } finally {
    clearInterval(ticker);
  }
  console.log(`[tools] built ${tool.name} in ${Math.round((Date.now() - started) / 1000)} s -> ${path.relative(projectRoot, output)}`);
}

/** Path of a working binary: a matching one on PATH, the one built before, or a fresh build. */
export async function ensureGoTool(name: GoToolName): Promise<string> {
  const tool = goTools[name];
  const fromPath = onPath(name);
  if (fromPath && versionOf(fromPath, tool.versionArgs)?.includes(tool.version)) return fromPath;

  const built = path.join(toolsBinDir, name);
  const stamp = `${built}.pin`;
  const hash = pinHash(tool);
  if (fs.existsSync(built) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === hash) return built;

  await goBuild(tool, built);
  const reported = versionOf(built, tool.versionArgs);
  if (!reported?.includes(tool.version)) {
    throw new Error(`${built} reports version ${JSON.stringify(reported?.trim())}, expected ${tool.version}`);
  }
  fs.writeFileSync(stamp, hash);
  return built;
}

/** The cluster's binaries (not built by `npm run tools:build`), one build at a time. */
export async function ensureClusterTools(): Promise<Record<ClusterToolName, string>> {
  return {
    'temporal-server': await ensureGoTool('temporal-server'),
    'temporal-sql-tool': await ensureGoTool('temporal-sql-tool'),
    'ui-server': await ensureGoTool('ui-server'),
  };
}

/** Anvil ships as a binary inside the platform package of @foundry-rs/anvil. */
export function anvilBinary(): string {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const platformPackage = `@foundry-rs/anvil-${process.platform}-${arch}`;
  try {
    const require = createRequire(import.meta.url);
    const packageDir = path.dirname(require.resolve(`${platformPackage}/package.json`));
    return path.join(packageDir, 'bin', 'anvil');
  } catch {
    throw new Error(`Anvil not found: the npm package ${platformPackage} is not installed. Run \`npm install\`.`);
  }
}

/** Every binary the stack runs, found or built. */
export async function ensureTools(): Promise<{ temporal: string; ipfs: string; anvil: string }> {
  const temporal = await ensureGoTool('temporal');
  const ipfs = await ensureGoTool('ipfs');
  return { temporal, ipfs, anvil: anvilBinary() };
}
