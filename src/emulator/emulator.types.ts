/**
 * The emulator's public types. Other parts of Likeness (the CLI's `likeness start`, integration tests
 * of the real adapters) depend on exactly these shapes; index.ts re-exports them.
 */

export interface EmulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (a random free port). */
  port?: number;
  /** Where per-pod AI Toolkit folders live: `<dataDir>/pods/<podId>/`, standalone `<dataDir>/aitk/`. */
  dataDir: string;
  /** Wall time a training job takes from start to completion, default 20; 0 finishes at once. */
  trainSeconds?: number;
  /** PROVISIONING -> STARTING -> RUNNING -> AI Toolkit UI answering, default 1. */
  bootSeconds?: number;
  /** Accepted RunPod bearer key; default 'emulator-key'. */
  runpodApiKey?: string;
  /** AI_TOOLKIT_AUTH of the standalone AI Toolkit UI at /aitk, default 'emulator-aitk'. */
  aitkToken?: string;
  faults?: Partial<FaultConfig>;
  /** Delay before each of RunPod's 2 retries of a serverless webhook that did not answer 200; default 10000 (RunPod's). */
  webhookRetryMs?: number;
  /** The RunPod v2 OpenAPI subset; default ../shared/contracts/runpod-rest-v2-pods.openapi.json from the project root. */
  openapiPath?: string;
  log?: (msg: string) => void;
}

export interface FaultConfig {
  /** Probability 0..1 that any provider call answers 500/502/503. */
  errorRate: number;
  /** Probability that a provider call hangs; the socket is closed after 30 s. */
  timeoutRate: number;
  /** Probability per started training that its pod is preempted mid-training. */
  preemptRate: number;
  /** Probability per started training that it ends with status 'error'. */
  trainerErrorRate: number;
  /** The next N started jobs end in 'error' (decrements when used). */
  failNextJobs: number;
  /** The next N started jobs get their pod preempted half-way (decrements when used). */
  preemptNextJobs: number;
  /** The next N provider requests answer 503 (decrements when used). */
  failNextRequests: number;
  /** Probability that a serverless job's webhook is delivered twice. */
  duplicateWebhookRate: number;
  /** Probability that a serverless job's webhook is never sent. */
  lostWebhookRate: number;
  /** The next N serverless webhooks are delivered twice (decrements when used). */
  duplicateNextWebhooks: number;
  /** The next N serverless webhooks are never sent (decrements when used). */
  loseNextWebhooks: number;
}

export interface EmulatorSnapshot {
  pods: Array<{ id: string; name: string; status: string; env: Record<string, string> }>;
  jobs: Array<{ id: string; name: string; status: string; step: number }>;
}

export interface RunningEmulator {
  /** Base URL, e.g. http://127.0.0.1:PORT */
  url: string;
  /** Same as url; the RunPod adapter appends /v2/pods... */
  runpodApiUrl: string;
  /** e.g. http://127.0.0.1:PORT/proxy/{podId}-{port} (real: https://{podId}-{port}.proxy.runpod.net) */
  podProxyUrlTemplate: string;
  /** Standalone AI Toolkit UI base, e.g. http://127.0.0.1:PORT/aitk */
  aitkUrl: string;
  /** Emulated ComfyUI server base, e.g. http://127.0.0.1:PORT/comfy (WebSocket at .../comfy/ws). */
  comfyUrl: string;
  /** RunPod serverless base for worker-comfyui, e.g. http://127.0.0.1:PORT/serverless/v2 (real: https://api.runpod.ai/v2). */
  comfyServerlessUrl: string;
  /** The serverless endpoint id it answers for (same bearer key as the RunPod API). */
  comfyEndpointId: string;
  /** RunPod serverless base of every emulated endpoint, e.g. http://127.0.0.1:PORT/serverless/v2. */
  serverlessUrl: string;
  /** The serverless endpoint running the emulated AI Toolkit training worker. */
  trainingEndpointId: string;
  /** The emulated ComfyUI host's models/loras folder, for a shared-folder LoRA delivery. */
  comfyLorasDir: string;
  setFaults(f: Partial<FaultConfig>): void;
  snapshot(): EmulatorSnapshot;
  close(): Promise<void>;
}
