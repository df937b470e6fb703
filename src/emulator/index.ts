/**
 * The GPU emulator: a local HTTP server that speaks RunPod's REST API v2 (pods) with its pod
 * proxy, and AI Toolkit's web UI API (on each pod's port 8675 and standalone), with configurable
 * timing and fault injection. It trains nothing and imports nothing from training/ or generation/:
 * the real adapters talk to it over HTTP exactly as to the real providers.
 *
 *   const emu = await startEmulator({ dataDir: '/tmp/emu', trainSeconds: 2 });
 *   // RunPod: `${emu.runpodApiUrl}/v2/pods` with `Authorization: Bearer emulator-key`
 *   // a pod's AI Toolkit UI: emu.podProxyUrlTemplate with {podId} and {port}=8675
 *   // standalone AI Toolkit UI: emu.aitkUrl with `Authorization: Bearer emulator-aitk`
 *   await emu.close();
 */
export type { EmulatorOptions, EmulatorSnapshot, FaultConfig, RunningEmulator } from './emulator.types.js';
export { startEmulator, DEFAULT_OPENAPI_PATH } from './emulator.server.js';
export { faultsFromEnv, DEFAULT_FAULTS } from './faults.js';
export { TRAINING_ENDPOINT_ID } from './serverless/index.js';
