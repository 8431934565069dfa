// Temporal's time-skipping test server (the Java SDK's `io.temporal.testserver.TestServer`), for the
// virtual-time tests. It comes from Maven Central as pinned in tools/temporal-test-server/pom.xml:
// Maven resolves its classpath once, and a launcher script in .tools/ runs it. The TypeScript SDK
// starts that launcher itself (`executable: { type: 'existing-path' }`) and passes the port as the
// only argument; it cannot download a server here.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../common/config.ts';

const pomDir = path.join(projectRoot, 'tools', 'temporal-test-server');
const pom = path.join(pomDir, 'pom.xml');
const toolsDir = path.join(projectRoot, '.tools');
/** The launcher the SDK runs: `<launcher> <port>`. */
export const testServerLauncher = path.join(toolsDir, 'bin', 'temporal-test-server');
const MAIN_CLASS = 'io.temporal.testserver.TestServer';

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

function pomHash(): string {
  return createHash('sha256').update(fs.readFileSync(pom)).digest('hex');
}

/** The launcher is current when it was written for this pom and every jar it names is still there. */
function launcherIsCurrent(hash: string): boolean {
  if (!fs.existsSync(testServerLauncher)) return false;
  const script = fs.readFileSync(testServerLauncher, 'utf8');
  const classpath = / -cp '([^']+)' /.exec(script)?.[1];
  return script.includes(`# pom sha256 ${hash}\n`) && !!classpath && classpath.split(path.delimiter).every((entry) => fs.existsSync(entry));
}

function missingTool(what: string): Error {
  return new Error(
    `Cannot prepare Temporal's time-skipping test server: no \`${what}\` on PATH.\n` +
      `The virtual-time tests (test/timeskip/) run the Java test server from Maven Central; install ` +
      `a Java 17+ runtime and Maven (Debian: \`apt-get install openjdk-17-jre-headless maven\`), then run \`npm run tools:build\`.`,
  );
}

/** Runs Maven, printing a line every 15 s so a first, slow resolution is not mistaken for a hang. */
async function resolveClasspath(mvn: string, log: (line: string) => void): Promise<string> {
  const started = Date.now();
  const output = path.join(toolsDir, `temporal-test-server.classpath.${process.pid}.tmp`);
  fs.mkdirSync(toolsDir, { recursive: true });
  fs.rmSync(output, { force: true });
  log('resolving io.temporal:temporal-test-server from tools/temporal-test-server/pom.xml with Maven (once, and again after the pom changes)...');
  const child = spawn(mvn, ['-B', '-q', '-Dstyle.color=never', 'dependency:build-classpath', `-Dmdep.outputFile=${output}`], {
    cwd: pomDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let transcript = '';
  child.stdout.on('data', (chunk: Buffer) => (transcript += chunk));
  child.stderr.on('data', (chunk: Buffer) => (transcript += chunk));
  const ticker = setInterval(() => log(`  still resolving with Maven... ${Math.round((Date.now() - started) / 1000)} s`), 15_000);
  try {
    const code: number = await new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (c) => resolve(c ?? 1));
    });
    if (code !== 0 || !fs.existsSync(output)) {
      throw new Error(`mvn dependency:build-classpath in tools/temporal-test-server failed with exit code ${code}:\n${transcript.trim()}`);
    }
  } finally {
    clearInterval(ticker);
  }
  const classpath = fs.readFileSync(output, 'utf8').trim();
  fs.rmSync(output, { force: true });
  if (!classpath.split(path.delimiter).some((entry) => /temporal-test-server-[^/]+\.jar$/.test(entry))) {
    throw new Error(`Maven's classpath for tools/temporal-test-server has no temporal-test-server jar:\n${classpath}`);
  }
  log(`resolved the test server's classpath in ${Math.round((Date.now() - started) / 1000)} s`);
  return classpath;
}

/**
 * Path of an executable that starts the time-skipping test server on the port given as its only
 * argument. Resolved with Maven the first time (or after the pom changed); afterwards instant.
 */
export async function ensureTimeSkippingServer(log: (line: string) => void = (line) => console.log(`[tools] ${line}`)): Promise<string> {
  const hash = pomHash();
  if (launcherIsCurrent(hash)) return testServerLauncher;

  const java = onPath('java');
  if (!java) throw missingTool('java');
  const mvn = onPath('mvn');
  if (!mvn) throw missingTool('mvn');

  const classpath = await resolveClasspath(mvn, log);
  fs.mkdirSync(path.dirname(testServerLauncher), { recursive: true });
  // Written whole to a temporary name, then renamed: a concurrent reader never sees half a script.
  const script = [
    '#!/bin/sh',
    `# Temporal's time-skipping test server; written by scripts/lib/testServer.ts, do not edit.`,
    `# pom sha256 ${hash}`,
    // A short-lived test server: quick start-up matters more than peak speed.
    `exec ${shellQuote(java)} -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp ${shellQuote(classpath)} ${MAIN_CLASS} "$@"`,
    '',
  ].join('\n');
  const temporary = `${testServerLauncher}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, script, { mode: 0o755 });
  fs.renameSync(temporary, testServerLauncher);
  log(`time-skipping test server launcher -> ${path.relative(projectRoot, testServerLauncher)}`);
  return testServerLauncher;
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
