/**
 * The emulator's own control API, for tests and for operators of `likeness start` in emulated mode:
 *   GET /_emulator/faults         -> FaultConfig
 *   PUT /_emulator/faults         (partial FaultConfig JSON) -> the merged FaultConfig; 400 on bad values
 *   GET /_emulator/state          -> snapshot of pods and jobs
 * No auth (it listens on loopback by default) and never subject to injected faults.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { EmulatorSnapshot, FaultConfig } from './emulator.types.js';
import { faultConfigPatchSchema } from './faults.js';

export interface ControlDeps {
  getFaults(): FaultConfig;
  setFaults(patch: Partial<FaultConfig>): FaultConfig;
  snapshot(): EmulatorSnapshot;
}

export async function buildControlApi(deps: ControlDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) =>
    reply.code(error.statusCode && error.statusCode < 500 ? error.statusCode : 500).send({ error: error.message }),
  );
  app.get('/_emulator/faults', async () => deps.getFaults());
  app.put('/_emulator/faults', async (request, reply) => {
    const parsed = faultConfigPatchSchema.safeParse(request.body ?? {});
    if (!parsed.success) {
      return reply.code(400).send({ error: 'invalid fault config', issues: parsed.error.issues.map((i) => `${i.path.join('.') || '$'}: ${i.message}`) });
    }
    return deps.setFaults(parsed.data);
  });
  app.get('/_emulator/state', async () => deps.snapshot());
  await app.ready();
  return app;
}
