/**
 * Compiles the Solidity contracts with the pinned solc-js (offline) and writes the committed build
 * output under contracts/build/: one JSON artifact and one TypeScript module (ABI `as const`,
 * bytecode, typed ethers v6 contract interface) per contract.
 *
 *   npm run contracts:build             # write contracts/build/*
 *   npm run contracts:build -- --check  # exit 1 if the committed output is stale
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import solc from 'solc';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const buildDir = join(repoRoot, 'contracts', 'build');

/** The compiler this project is pinned to; a different installed solc is an error, not a rebuild. */
export const SOLC_VERSION = '0.8.37';

/** Contracts to build: Solidity source unit (path from the repo root) and contract name. */
const targets = [
  { source: 'contracts/CreativeAsset.sol', contract: 'CreativeAsset' },
  { source: 'contracts/reference/ReferenceERC721URIStorage.sol', contract: 'ReferenceERC721URIStorage' },
] as const;

/** Compiler settings, recorded in every artifact. viaIR is off: it measured no cheaper here and compiles slower. */
export const compilerSettings = {
  optimizer: { enabled: true, runs: 200 },
  viaIR: false,
  // Prague: what mainnet and Anvil run; pinned so a solc upgrade can't silently change opcodes.
  evmVersion: 'prague',
  metadata: { bytecodeHash: 'ipfs' },
} as const;

type AbiParameter = { name: string; type: string; internalType?: string; components?: AbiParameter[] };
type AbiItem = {
  type: string;
  name?: string;
  inputs?: AbiParameter[];
  outputs?: AbiParameter[];
  stateMutability?: string;
};

export interface ContractArtifact {
  contractName: string;
  sourceName: string;
  abi: AbiItem[];
  bytecode: string;
  deployedBytecode: string;
  compiler: { name: 'solc'; version: string; settings: typeof compilerSettings };
  /** sha256 over the source files this contract is built from (paths and contents, sorted by path). */
  sourceHash: string;
  sources: string[];
}

/** Import callback: our sources from the repo, libraries (`@openzeppelin/...`, `erc721a/...`) from node_modules. */
function readSource(path: string): { contents: string } | { error: string } {
  const candidates = path.startsWith('contracts/') ? [join(repoRoot, path)] : [join(repoRoot, 'node_modules', path)];
  for (const file of candidates) {
    if (existsSync(file)) return { contents: readFileSync(file, 'utf8') };
  }
  return { error: `not found: ${path}` };
}

interface SolcOutput {
  errors?: { severity: 'error' | 'warning' | 'info'; formattedMessage: string }[];
  sources?: Record<string, unknown>;
  contracts?: Record<string, Record<string, { abi: AbiItem[]; metadata: string; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }>>;
}

/** Compiles every target in memory. Throws on compiler errors. */
export function compileContracts(): ContractArtifact[] {
  const installed = String(solc.version());
  if (!installed.startsWith(`${SOLC_VERSION}+`)) {
    throw new Error(`solc ${SOLC_VERSION} is pinned but ${installed} is installed`);
  }
  const sources: Record<string, { content: string }> = {};
  for (const { source } of targets) sources[source] = { content: readFileSync(join(repoRoot, source), 'utf8') };

  const readByCompiler = new Map<string, string>(Object.entries(sources).map(([p, s]) => [p, s.content]));
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      ...compilerSettings,
      outputSelection: {
        '*': { '*': ['abi', 'metadata', 'evm.bytecode.object', 'evm.deployedBytecode.object'] },
      },
    },
  };
  const output = JSON.parse(
    solc.compile(JSON.stringify(input), {
      import: (path: string) => {
        const result = readSource(path);
        if ('contents' in result) readByCompiler.set(path, result.contents);
        return result;
      },
    }),
  ) as SolcOutput;

  const problems = output.errors ?? [];
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  for (const warning of problems) console.warn(warning.formattedMessage);

  return targets.map(({ source, contract }) => {
    const compiled = output.contracts?.[source]?.[contract];
    if (!compiled) throw new Error(`solc produced no output for ${source}:${contract}`);
    // The contract's own metadata lists exactly the sources it was built from.
    const sourceNames = Object.keys((JSON.parse(compiled.metadata) as { sources: Record<string, unknown> }).sources).sort();
    const sourceHash = createHash('sha256');
    for (const name of sourceNames) sourceHash.update(`${name}\0${readByCompiler.get(name)}\0`);
    return {
      contractName: contract,
      sourceName: source,
      abi: compiled.abi,
      bytecode: `0x${compiled.evm.bytecode.object}`,
      deployedBytecode: `0x${compiled.evm.deployedBytecode.object}`,
      compiler: { name: 'solc', version: installed, settings: compilerSettings },
      sourceHash: `sha256:${sourceHash.digest('hex')}`,
      sources: sourceNames,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// TypeScript bindings
// ---------------------------------------------------------------------------------------------

/** Members of ethers' BaseContract that a generated method must not shadow. */
const baseContractMembers = new Set([
  'target',
  'interface',
  'runner',
  'filters',
  'fallback',
  'connect',
  'attach',
  'getAddress',
  'getDeployedCode',
  'waitForDeployment',
  'deploymentTransaction',
  'getFunction',
  'getEvent',
  'queryTransaction',
  'queryFilter',
  'on',
  'once',
  'emit',
  'listenerCount',
  'listeners',
  'off',
  'removeAllListeners',
  'addListener',
  'removeListener',
]);

function tsType(param: AbiParameter, direction: 'input' | 'output'): string {
  const array = /^(.*)\[(\d*)\]$/.exec(param.type);
  if (array) return `${tsType({ ...param, type: array[1]! }, direction)}[]`;
  if (param.type === 'tuple') {
    const fields = (param.components ?? []).map((c) => `${c.name || '_'}: ${tsType(c, direction)}`);
    return `[${fields.join(', ')}]`;
  }
  if (/^u?int\d*$/.test(param.type)) return direction === 'input' ? 'BigNumberish' : 'bigint';
  if (param.type === 'address') return direction === 'input' ? 'AddressLike' : 'string';
  if (param.type === 'bool') return 'boolean';
  if (param.type === 'string') return 'string';
  if (/^bytes\d*$/.test(param.type)) return direction === 'input' ? 'BytesLike' : 'string';
  throw new Error(`no TypeScript mapping for ABI type ${param.type}`);
}

function signatureOf(item: AbiItem): string {
  return `${item.name}(${(item.inputs ?? []).map((p) => p.type).join(',')})`;
}

function renderContractInterface(artifact: ContractArtifact): string {
  const functions = artifact.abi.filter((item) => item.type === 'function');
  const overloaded = new Set(functions.map((f) => f.name).filter((name, i, names) => names.indexOf(name) !== i));
  const members = functions.map((fn) => {
    const args = (fn.inputs ?? []).map((p, i) => `${p.name || `arg${i}`}: ${tsType(p, 'input')}`).join(', ');
    const outputs = fn.outputs ?? [];
    const result =
      outputs.length === 0
        ? 'void'
        : outputs.length === 1
          ? tsType(outputs[0]!, 'output')
          : `[${outputs.map((p, i) => `${p.name || `out${i}`}: ${tsType(p, 'output')}`).join(', ')}]`;
    const isView = fn.stateMutability === 'view' || fn.stateMutability === 'pure';
    const key = overloaded.has(fn.name!) || baseContractMembers.has(fn.name!) ? JSON.stringify(signatureOf(fn)) : fn.name!;
    return `  ${key}: BaseContractMethod<[${args}], ${result}, ${isView ? result : 'ContractTransactionResponse'}>;`;
  });
  return [
    `/** ethers v6 contract typed from the ${artifact.contractName} ABI. Overloads are keyed by full signature. */`,
    `export interface ${artifact.contractName}Contract extends BaseContract {`,
    ...members,
    '}',
  ].join('\n');
}

function renderBindings(artifact: ContractArtifact): string {
  return [
    `// Generated by contracts/build.ts from ${artifact.sourceName} (${artifact.sourceHash}). Do not edit.`,
    `import type { AddressLike, BaseContract, BaseContractMethod, BigNumberish, BytesLike, ContractTransactionResponse } from 'ethers';`,
    '',
    `export const contractName = ${JSON.stringify(artifact.contractName)};`,
    `export const abi = ${JSON.stringify(artifact.abi, null, 2)} as const;`,
    `export const bytecode = ${JSON.stringify(artifact.bytecode)};`,
    `export const deployedBytecode = ${JSON.stringify(artifact.deployedBytecode)};`,
    `export const compilerVersion = ${JSON.stringify(artifact.compiler.version)};`,
    '',
    renderContractInterface(artifact),
    '',
  ].join('\n');
}

/** Every committed build file (path from the repo root) with the content a fresh build gives. */
export function renderBuildOutput(artifacts: ContractArtifact[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const artifact of artifacts) {
    const base = relative(repoRoot, join(buildDir, artifact.contractName));
    files.set(`${base}.json`, `${JSON.stringify(artifact, null, 2)}\n`);
    files.set(`${base}.ts`, renderBindings(artifact));
  }
  return files;
}

/** Recompiles and returns the committed build files that are missing or differ from a fresh build. */
export function findStaleBuildOutput(): string[] {
  const stale: string[] = [];
  for (const [path, content] of renderBuildOutput(compileContracts())) {
    const file = join(repoRoot, path);
    if (!existsSync(file) || readFileSync(file, 'utf8') !== content) stale.push(path);
  }
  return stale;
}

function writeBuildOutput(): string[] {
  mkdirSync(buildDir, { recursive: true });
  const files = renderBuildOutput(compileContracts());
  for (const [path, content] of files) writeFileSync(join(repoRoot, path), content);
  return [...files.keys()];
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  if (process.argv.includes('--check')) {
    const stale = findStaleBuildOutput();
    if (stale.length > 0) {
      console.error(`stale build output (run npm run contracts:build): ${stale.join(', ')}`);
      process.exit(1);
    }
    console.log('contracts/build is up to date');
  } else {
    for (const path of writeBuildOutput()) console.log(`wrote ${path}`);
  }
}
