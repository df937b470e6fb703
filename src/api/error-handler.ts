/**
 * The one boundary where errors become HTTP responses: {error:{code, message, details?}} with
 * the right status. Unknown errors are logged and answered as a generic 500 without internals.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError } from '../domain/errors.js';

export function errorBody(code: string, message: string, details?: unknown) {
  return { error: { code, message, ...(details === undefined ? {} : { details }) } };
}

export function handleError(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err instanceof AppError) {
    // Limits say when to come back (RFC 9110 Retry-After) besides the sentence.
    const retryAfter = err.details?.retryAfterSeconds;
    if (err.status === 429 && typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
    return reply.status(err.status).send(errorBody(err.code, err.message, err.details));
  }
  if (hasZodFastifySchemaValidationErrors(err)) {
    const issues = err.validation.map((v) => ({
      path: `${err.validationContext ?? 'body'}${v.instancePath.replace(/\//g, '.')}`,
      message: v.message,
    }));
    const first = issues[0];
    return reply
      .status(400)
      .send(errorBody('validation_failed', first ? `Invalid request: ${first.path} ${first.message}.` : 'Invalid request.', issues));
  }
  const fe = err as FastifyError;
  if (fe.code === 'FST_REQ_FILE_TOO_LARGE' || fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || fe.statusCode === 413) {
    return reply.status(413).send(errorBody('payload_too_large', 'The upload is larger than allowed.'));
  }
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || fe.statusCode === 415) {
    return reply.status(415).send(errorBody('unsupported_media_type', 'This content type is not accepted here.'));
  }
  if (fe.code === 'FST_INVALID_MULTIPART_CONTENT_TYPE' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return reply.status(400).send(errorBody('bad_request', fe.message));
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return reply.status(fe.statusCode).send(errorBody('bad_request', fe.message));
  }
  req.log.error({ err }, 'unhandled error');
  if (process.env.LIKENESS_DEBUG_ERRORS) console.error(err);
  return reply.status(500).send(errorBody('internal', 'Something went wrong on our side.'));
}
