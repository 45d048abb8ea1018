import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AuthError, codeOfStatus, errorFromBody, ValidationError } from './errors.js';

const pythonSdk = resolve(dirname(fileURLToPath(import.meta.url)), '../../python');
const STATUSES = Array.from({ length: 500 }, (_, i) => 100 + i);

describe('an error answer without a usable code', () => {
  it('maps every status to the same code in the TypeScript and the Python SDK', () => {
    const script = 'import json, sys\nfrom faas_sdk.exceptions import code_of_status\nprint(json.dumps({s: code_of_status(s) for s in json.loads(sys.argv[1])}))';
    const out = execFileSync('python3', ['-c', script, JSON.stringify(STATUSES)], { env: { ...process.env, PYTHONPATH: pythonSdk }, encoding: 'utf8' });
    const python = JSON.parse(out) as Record<string, string>;
    const typescript = Object.fromEntries(STATUSES.map((s) => [String(s), codeOfStatus(s)]));
    expect(python).toEqual(typescript);
  });

  it('is a typed error of that code, with the status in its message', () => {
    expect(errorFromBody(null, 403)).toBeInstanceOf(AuthError);
    const refused = errorFromBody(null, 413);
    expect(refused).toBeInstanceOf(ValidationError);
    expect(refused.message).toContain('HTTP 413');
    expect(errorFromBody(null, 502).code).toBe('INTERNAL_ERROR');
    expect(errorFromBody({ code: 'QUOTA_EXCEEDED', message: 'quota' }, 403).code).toBe('QUOTA_EXCEEDED');
    // The server's details stay with the typed error.
    const unavailable = errorFromBody({ code: 'RESOURCE_UNAVAILABLE', message: 'image: building', details: { field: 'image', state: 'building', step: 'npm install' } }, 422);
    expect(unavailable.details).toEqual({ field: 'image', state: 'building', step: 'npm install' });
  });
});
