/**
 * The GPU types the emulated RunPod offers (`GET /v2/catalog/gpus`) and what a pod on each costs.
 * Prices are plausible on-demand figures, not live ones; the RTX 4090 is the product's default.
 * Every type can be placed with CUDA up to 13.0 because ostris/aitoolkit:latest needs a CUDA 13 host
 * (contracts §3.1), and the adapter pins `allowedCudaVersions: ["13.0"]`.
 */

export interface EmulatedGpuType {
  id: string;
  name: string;
  pool: string;
  memory: number;
  price: { secure: number; community: number; serverless: number };
  maxCount: { secure: number; community: number };
  availability: 'NONE' | 'LOW' | 'MEDIUM' | 'HIGH';
  dataCenters: Array<{ id: string; name: string; availability: 'NONE' | 'LOW' | 'MEDIUM' | 'HIGH' }>;
}

export const CUDA_VERSIONS = ['12.4', '12.6', '12.8', '13.0'] as const;

const DC_KS: EmulatedGpuType['dataCenters'][number] = { id: 'US-KS-2', name: 'US Kansas 2', availability: 'HIGH' };
const DC_RO: EmulatedGpuType['dataCenters'][number] = { id: 'EU-RO-1', name: 'EU Romania 1', availability: 'MEDIUM' };
const DC_CA: EmulatedGpuType['dataCenters'][number] = { id: 'CA-MTL-1', name: 'CA Montreal 1', availability: 'LOW' };

export const GPU_CATALOG: readonly EmulatedGpuType[] = [
  {
    id: 'NVIDIA GeForce RTX 4090',
    name: 'RTX 4090',
    pool: 'ADA_24',
    memory: 24,
    price: { secure: 0.69, community: 0.34, serverless: 1.1 },
    maxCount: { secure: 8, community: 4 },
    availability: 'HIGH',
    dataCenters: [DC_KS, DC_RO],
  },
  {
    id: 'NVIDIA GeForce RTX 5090',
    name: 'RTX 5090',
    pool: 'BLACKWELL_32',
    memory: 32,
    price: { secure: 0.94, community: 0.69, serverless: 1.58 },
    maxCount: { secure: 8, community: 4 },
    availability: 'MEDIUM',
    dataCenters: [DC_KS, DC_CA],
  },
  {
    id: 'NVIDIA RTX A6000',
    name: 'RTX A6000',
    pool: 'AMPERE_48',
    memory: 48,
    price: { secure: 0.49, community: 0.33, serverless: 0.85 },
    maxCount: { secure: 8, community: 8 },
    availability: 'HIGH',
    dataCenters: [DC_RO, DC_CA],
  },
  {
    id: 'NVIDIA L40S',
    name: 'L40S',
    pool: 'ADA_48_PRO',
    memory: 48,
    price: { secure: 0.86, community: 0.79, serverless: 1.33 },
    maxCount: { secure: 8, community: 4 },
    availability: 'MEDIUM',
    dataCenters: [DC_KS],
  },
  {
    id: 'NVIDIA A100 80GB PCIe',
    name: 'A100 PCIe',
    pool: 'AMPERE_80',
    memory: 80,
    price: { secure: 1.64, community: 1.19, serverless: 2.72 },
    maxCount: { secure: 8, community: 4 },
    availability: 'LOW',
    dataCenters: [DC_KS, DC_RO],
  },
  {
    id: 'NVIDIA H100 80GB HBM3',
    name: 'H100 SXM',
    pool: 'HOPPER_80',
    memory: 80,
    price: { secure: 2.99, community: 2.69, serverless: 4.18 },
    maxCount: { secure: 8, community: 8 },
    availability: 'LOW',
    dataCenters: [DC_CA],
  },
];

export function findGpuType(id: string): EmulatedGpuType | undefined {
  return GPU_CATALOG.find((g) => g.id === id);
}

/** A `GpuType` as the catalog endpoint returns it; availability only when asked for. */
export function gpuTypeToWire(gpu: EmulatedGpuType, withAvailability: boolean): Record<string, unknown> {
  const wire: Record<string, unknown> = {
    id: gpu.id,
    name: gpu.name,
    pool: gpu.pool,
    manufacturer: 'NVIDIA',
    memory: gpu.memory,
    secure: true,
    community: true,
    price: { ...gpu.price },
    maxCount: { ...gpu.maxCount },
  };
  if (withAvailability) {
    wire.availability = gpu.availability;
    wire.dataCenters = gpu.dataCenters.map((d) => ({ ...d }));
    wire.cudaVersions = CUDA_VERSIONS.map((version) => ({ version, available: true }));
  }
  return wire;
}
