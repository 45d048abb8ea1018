// The devbox image built by the operator on first use (issue 14: `npm start` no longer builds it
// up front). Real builds through scripts/build-devbox.ts on the real engine: one that fails
// answers the SDK's start with RESOURCE_UNAVAILABLE naming the image and the build's log; one that
// takes longer than the start waits answers with its progress, and the start after it is ready
// runs an instance from the image it built. The images built here have tags of their own
// (`faas-devbox:<FAAS_IMAGE_TAG or "test">-…`) and are removed after; the shared root filesystem
// image and the npm cache are reused as they are (the shared faas-devbox:latest is never touched).
import { basename, dirname } from 'node:path';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { FaaSClient, ResourceUnavailableError } from '../../src/index.js';
import type { DevboxImageStatus } from '../../src/sandbox/index.js';
import { INSTANCE_LABEL } from '../../src/sandbox/instances/index.js';
import { docker } from '../helpers.js';
import { sleep, startInstanceGateway } from './fixtures.js';
import type { InstanceGateway } from './fixtures.js';

const tag = process.env.FAAS_IMAGE_TAG && process.env.FAAS_IMAGE_TAG !== 'latest' ? process.env.FAAS_IMAGE_TAG : 'test';
const gateways: InstanceGateway[] = [];
const logs: string[] = [];
const built: string[] = [];

afterAll(async () => {
  for (const gw of gateways) await gw.close();
  for (const image of built) await docker.getImage(image).remove({ force: true }).catch(() => undefined);
  for (const f of logs) rmSync(f, { force: true });
}, 120_000);

async function gatewayFor(image: string, waitS: number): Promise<{ gw: InstanceGateway; sdk: FaaSClient }> {
  const gw = await startInstanceGateway({ FAAS_INSTANCE_IMAGE: image, FAAS_INSTANCE_IMAGE_WAIT_S: String(waitS) });
  gateways.push(gw);
  logs.push(gw.gateway.instanceManager.image.status().log);
  return { gw, sdk: new FaaSClient({ endpoint: gw.url, apiKey: gw.keys.create('dev').key, timeout: 60_000 }) };
}

describe('devbox image on first instance start', () => {
  it('a build that fails answers RESOURCE_UNAVAILABLE naming the image and the build log (no hang)', async () => {
    // Docker refuses this reference when the build tags it: a real failure of the real build.
    const image = `faas-devbox:${tag}-not-a-valid-tag!`;
    const { gw, sdk } = await gatewayFor(image, 600);
    const t0 = Date.now();
    const err = await sdk.instances.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceUnavailableError);
    const e = err as ResourceUnavailableError;
    expect(e.code).toBe('RESOURCE_UNAVAILABLE');
    expect(e.field).toBe('image');
    const status = gw.gateway.instanceManager.image.status();
    expect(status.state).toBe('failed');
    expect(e.message).toContain(`the instance image ${image} could not be built`);
    expect(e.message).toContain(`the build's log on the operator: ${basename(status.log)}`);
    // The tenant learns the log's name, not where the operator keeps its files.
    expect(e.message).not.toContain(dirname(status.log));
    expect(e.details).toMatchObject({ log: basename(status.log) });
    expect(existsSync(status.log)).toBe(true);
    expect(readFileSync(status.log, 'utf8')).toMatch(/\[images\] .*failed/);
    expect(Date.now() - t0).toBeLessThan(90_000); // within the SDK's own limit for a start
    // Another start right after answers the failure at once: no key can keep a failing build
    // running on the host by starting instances in a loop.
    const t1 = Date.now();
    const again = await sdk.instances.start().catch((e: unknown) => e);
    expect(again).toMatchObject({ code: 'RESOURCE_UNAVAILABLE', field: 'image', message: expect.stringContaining('tries again in') });
    expect(gw.gateway.instanceManager.image.status()).toMatchObject({ state: 'failed', startedAt: status.startedAt });
    expect(Date.now() - t1).toBeLessThan(10_000);
  }, 700_000);

  it('a start that waited its limit answers with the build’s progress; once built, an instance runs from the image', async () => {
    const image = `faas-devbox:${tag}-firstuse`;
    built.push(image);
    await docker.getImage(image).remove({ force: true }).catch(() => undefined);
    const { gw, sdk } = await gatewayFor(image, 1);
    const seen: DevboxImageStatus[] = [];
    gw.gateway.instanceManager.image.onProgress((s) => seen.push(s));
    const err = await sdk.instances.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceUnavailableError);
    expect((err as Error).message).toMatch(new RegExp(`the instance image ${image.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is being built on this operator \\(first use; \\d+ s so far`));
    expect((err as Error).message).toContain("The build's log on the operator: devbox-build-");
    // A second start while it builds joins the same build (one at a time), and answers the same way.
    await expect(sdk.instances.start()).rejects.toMatchObject({ code: 'RESOURCE_UNAVAILABLE', field: 'image' });
    const deadline = Date.now() + 900_000;
    while (gw.gateway.instanceManager.image.status().state === 'building' && Date.now() < deadline) await sleep(2000);
    const status = gw.gateway.instanceManager.image.status();
    expect(status.state, status.error ?? '').toBe('ready');
    expect(seen.some((s) => s.state === 'building' && /building faas-devbox/.test(s.step ?? ''))).toBe(true);
    expect(seen.at(-1)?.state).toBe('ready');
    expect((await docker.getImage(image).inspect()).Config.Labels['faas.content']).toMatch(/^[0-9a-f]{16}$/);
    const inst = await sdk.instances.start();
    try {
      expect(inst.status).toBe('running');
      const [container] = await docker.listContainers({ filters: { label: [`${INSTANCE_LABEL}=${inst.id}`] } });
      expect(container?.Image).toBe(image);
      const r = await sdk.instances.exec(inst.id, { command: 'echo from-the-new-image' });
      expect(r.stdout).toBe('from-the-new-image\n');
    } finally {
      await sdk.instances.stop(inst.id);
    }
  }, 1_000_000);
});
