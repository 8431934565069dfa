// `npm run build`: bundles the workflow code once, for workers to start from (workers/prebuiltBundle.ts).
import { prebuiltBundleFile, writePrebuiltBundle } from '../workers/prebuiltBundle.ts';
import { bundleAtelierWorkflows } from '../workers/worker.ts';

const started = Date.now();
const bundle = await bundleAtelierWorkflows({ log: () => {}, info: () => {}, warn: console.warn, error: console.error, debug: () => {}, trace: () => {} });
writePrebuiltBundle(bundle);
console.log(`workflow bundle: ${prebuiltBundleFile} (${(bundle.code.length / 1048576).toFixed(2)} MiB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
