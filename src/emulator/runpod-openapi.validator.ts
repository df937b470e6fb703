/**
 * Validates what the adapter sends to the emulated RunPod API against RunPod's own published
 * OpenAPI document (the cut-down copy in shared/contracts), loaded at run time, so the adapter and
 * the emulator cannot drift from the real contract together.
 *
 * The document is OpenAPI 3.1 (JSON Schema 2020-12: `unevaluatedProperties`, `if`/`then`), hence
 * Ajv's 2020 dialect. Error strings imitate RunPod's Go validator as the contract shows it
 * (`"$: additional properties 'bogus' not allowed"`); only that one message is documented, the
 * others follow the same JSON-path-plus-sentence pattern (unverified wording).
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';

const DOC_ID = 'runpod-rest-v2-pods';

export type RunpodSchemaName = 'CreatePodRequest' | 'UpdatePodRequest' | 'PodActionRequest' | 'Pod' | 'ListPodsResponse' | 'GpuType' | 'ListGpuTypesResponse' | 'ErrorResponse';

export class RunpodOpenApiValidator {
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<RunpodSchemaName, ValidateFunction>();

  constructor(openapiPath: string) {
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(readFileSync(openapiPath, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`emulator: cannot load the RunPod OpenAPI document at ${openapiPath}: ${(err as Error).message}`);
    }
    // strict:false because an OpenAPI document carries keywords that are not JSON Schema
    // (example, x-enum-varnames, format: float); formats are not part of what RunPod rejects
    // in request bodies here, so they are not validated.
    this.ajv = new Ajv2020({ strict: false, allErrors: true, verbose: true, validateFormats: false });
    this.ajv.addSchema({ ...doc, $id: DOC_ID });
  }

  private validator(name: RunpodSchemaName): ValidateFunction {
    let fn = this.compiled.get(name);
    if (!fn) {
      fn = this.ajv.getSchema(`${DOC_ID}#/components/schemas/${name}`);
      if (!fn) throw new Error(`emulator: schema ${name} missing from the RunPod OpenAPI document`);
      this.compiled.set(name, fn);
    }
    return fn;
  }

  /** Returns RunPod-style error strings; an empty list means valid. */
  validate(name: RunpodSchemaName, value: unknown): string[] {
    const fn = this.validator(name);
    if (fn(value)) return [];
    return formatErrors(fn.errors ?? []);
  }
}

function jsonPath(instancePath: string): string {
  if (instancePath === '') return '$';
  let out = '$';
  for (const raw of instancePath.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(seg) ? `[${seg}]` : `.${seg}`;
  }
  return out;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function formatErrors(errors: ErrorObject[]): string[] {
  const out: string[] = [];
  // Unknown properties at one location are reported together, as the Go validator does.
  const unknownByPath = new Map<string, Set<string>>();
  for (const e of errors) {
    const where = jsonPath(e.instancePath);
    const params = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'additionalProperties':
      case 'unevaluatedProperties': {
        const prop = String(params.additionalProperty ?? params.unevaluatedProperty);
        const set = unknownByPath.get(where) ?? new Set<string>();
        set.add(prop);
        unknownByPath.set(where, set);
        break;
      }
      case 'required':
        out.push(`${where}: missing property '${String(params.missingProperty)}'`);
        break;
      case 'type':
        out.push(`${where}: got ${jsonType(e.data)}, want ${String(params.type)}`);
        break;
      case 'enum':
        out.push(`${where}: value must be one of ${(params.allowedValues as unknown[]).map((v) => `'${String(v)}'`).join(', ')}`);
        break;
      case 'minimum':
        out.push(`${where}: must be >= ${String(params.limit)} but found ${String(e.data)}`);
        break;
      case 'maximum':
        out.push(`${where}: must be <= ${String(params.limit)} but found ${String(e.data)}`);
        break;
      case 'minLength':
        out.push(`${where}: length must be >= ${String(params.limit)}, but got ${String((e.data as string).length)}`);
        break;
      case 'pattern':
        out.push(`${where}: '${String(e.data)}' does not match pattern '${String(params.pattern)}'`);
        break;
      case 'maxItems':
        out.push(`${where}: maximum ${String(params.limit)} items required, but found ${String((e.data as unknown[]).length)} items`);
        break;
      case 'if':
      case 'allOf':
      case 'anyOf':
        // Summaries of errors already reported on their own.
        break;
      default:
        out.push(`${where}: ${e.message ?? e.keyword}`);
    }
  }
  for (const [where, props] of unknownByPath) {
    out.push(`${where}: additional properties ${[...props].map((p) => `'${p}'`).join(', ')} not allowed`);
  }
  return [...new Set(out)];
}
