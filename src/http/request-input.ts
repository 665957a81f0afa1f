import type { z } from 'zod';
import { badJson, invalidParam, missingParam, notJson, type MatrixError } from '../core/errors.js';

export type InputPart = 'body' | 'query' | 'path';

/** Parses a request body as JSON. An empty body counts as `{}`; anything else not JSON is M_NOT_JSON. */
export function parseJsonBody(raw: Buffer | undefined): unknown {
  if (!raw || raw.length === 0) return {};
  const text = raw.toString('utf8');
  if (text.trim().length === 0) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw notJson('Content not JSON.');
  }
}

/**
 * Validates one part of a request against its schema and maps a failure to the Matrix error a
 * client expects: a missing field is M_MISSING_PARAM; a wrong body is M_BAD_JSON; a wrong path or
 * query parameter is M_INVALID_PARAM.
 */
export function validateInput<S extends z.ZodType>(
  schema: S,
  value: unknown,
  part: InputPart,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue)
    throw part === 'body' ? badJson('Invalid request body') : invalidParam('Invalid parameter');
  throw toMatrixError(issue, value, part);
}

function toMatrixError(issue: z.core.$ZodIssue, value: unknown, part: InputPart): MatrixError {
  const where = issue.path.length > 0 ? issue.path.join('.') : part;
  if (issue.path.length > 0 && valueAt(value, issue.path) === undefined) {
    return missingParam(`Missing ${part === 'body' ? 'field' : 'parameter'}: ${where}`);
  }
  if (part === 'body') {
    if (
      issue.path.length === 0 &&
      (value === null || typeof value !== 'object' || Array.isArray(value))
    ) {
      return badJson('Content must be a JSON object.');
    }
    return badJson(`Invalid value for ${where}: ${issue.message}`);
  }
  return invalidParam(
    `Invalid ${part === 'path' ? 'path parameter' : 'query parameter'} ${where}: ${issue.message}`,
  );
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
