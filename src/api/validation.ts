// Request bodies and queries checked against their zod schema, failing as VALIDATION_ERROR
// with the field at fault (an unknown field is named itself).
import type { z } from 'zod';
import { ValidationError } from '@faas/sdk/errors';
import { validationErrorFrom } from '../sandbox/index.js';

export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  if (value === undefined || value === null) throw new ValidationError('body', 'expected a JSON object');
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const field = [...issue.path.map(String), issue.keys[0]!].join('.');
    throw new ValidationError(field, 'unknown field; see /openapi.json for the accepted fields');
  }
  throw validationErrorFrom(r.error);
}
