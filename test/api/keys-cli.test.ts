// API keys from the operator CLI: created (secret shown once, stored hashed), listed,
// revoked — a revoked key is refused by the gateway at once.
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, FaaSClient } from '../../src/index.js';
import { runOperatorCli } from '../helpers.js';
import { startGateway } from './fixtures.js';
import type { TestGateway } from './fixtures.js';

let gw: TestGateway;

const cli = (...args: string[]) => runOperatorCli(['keys', ...args], { FAAS_DB_PATH: gw.config.dbPath });

beforeAll(async () => {
  gw = await startGateway();
});

afterAll(async () => {
  await gw?.close();
});

describe('operator CLI: keys', () => {
  it('create, list, use, revoke', async () => {
    const created = await cli('create', '--name', 'ci-bot', '--requests', '100', '--concurrency', '2', '--credit', '5');
    expect(created.code).toBe(0);
    const [, id] = /created key ([0-9a-f]{12}) \(ci-bot\)/.exec(created.out)!;
    const secret = created.out.trim().split('\n').at(-1)!;
    expect(secret).toMatch(new RegExp(`^faas_${id}_`));
    // Only the hash is stored.
    const db = new Database(gw.config.dbPath, { readonly: true });
    // (The random part is base64url, which may hold '_' itself: cut by length, not by '_'.)
    expect(JSON.stringify(db.prepare('SELECT * FROM api_keys').all())).not.toContain(secret.slice(`faas_${id}_`.length));
    db.close();

    const listed = await cli('list');
    expect(listed.out).toMatch(new RegExp(`${id}\\s+ci-bot.*100 req/60s, 2 at once, credit 5`));
    const c = new FaaSClient({ endpoint: gw.url, apiKey: secret });
    expect((await c.usage.getCurrent()).credit).toBe(5);

    expect((await cli('revoke', id!)).out).toContain(`revoked key ${id}`);
    await expect(c.usage.getCurrent()).rejects.toBeInstanceOf(AuthError);
    expect((await cli('list')).out).toMatch(new RegExp(`${id}.*REVOKED`));
    const again = await cli('revoke', id!);
    expect([again.code, again.out]).toEqual([2, expect.stringContaining(`no live key with id ${id}`)]);
  });
});
