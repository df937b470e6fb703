/**
 * RunPod REST v2 errors: RFC 9457 problem objects, `application/problem+json`, shaped like the
 * contract's examples (`{"title","status","detail","errors"?}`, no `type`).
 */
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';

export interface Problem {
  title: string;
  status: number;
  detail: string;
  errors?: string[];
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export function problem(status: number, detail: string, errors?: string[]): Problem {
  const body: Problem = { title: TITLES[status] ?? 'Error', status, detail };
  if (errors) body.errors = errors;
  return body;
}

export function sendProblem(reply: FastifyReply, status: number, detail: string, errors?: string[]): FastifyReply {
  // A Buffer, because Fastify appends "; charset=utf-8" to JSON media types of string payloads.
  return reply.code(status).header('content-type', PROBLEM_CONTENT_TYPE).send(Buffer.from(JSON.stringify(problem(status, detail, errors))));
}

/** For answers written outside Fastify (injected faults in front of the router). */
export function writeProblem(res: ServerResponse, status: number, detail: string): void {
  const body = JSON.stringify(problem(status, detail));
  res.writeHead(status, { 'content-type': PROBLEM_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
