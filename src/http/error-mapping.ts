import {
  MatrixError,
  invalidParam,
  isMatrixError,
  tooLarge,
  unknownError,
} from '../core/errors.js';

/**
 * Turns anything thrown while serving a request into the Matrix error the client sees. Known
 * fastify client errors keep their status; everything else is a 500 with a generic message
 * (the details go to the log, never to the client).
 */
export function toMatrixError(error: unknown): MatrixError {
  if (isMatrixError(error)) return error;
  if (codeOf(error) === 'FST_ERR_BAD_URL') return invalidParam('The request URL is not valid');
  const status = statusOf(error);
  if (status === 413) return tooLarge('Request body too large');
  if (status !== undefined && status >= 400 && status < 500) {
    return new MatrixError('M_UNKNOWN', messageOf(error), { status });
  }
  return unknownError();
}

function statusOf(error: unknown): number | undefined {
  if (error instanceof Error && 'statusCode' in error && typeof error.statusCode === 'number') {
    return error.statusCode;
  }
  return undefined;
}

function codeOf(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : 'Bad request';
}
