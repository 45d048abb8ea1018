import { describe, expect, it } from 'vitest';
import { DevboxImageUnavailableError, withoutPaths } from './devbox-image.js';

describe('what a tenant learns of a devbox build', () => {
  it('names files, not where the operator keeps them', () => {
    expect(withoutPaths('cached in /var/cache/faas-devbox; ENOENT: open /work/main/scripts/build-devbox.ts')).toBe('cached in …/faas-devbox; ENOENT: open …/build-devbox.ts');
    expect(withoutPaths('at file:///home/op/faas/node_modules/x/index.js:3:1')).toBe('at file://…/index.js:3:1');
    expect(withoutPaths('faas-devbox:latest step 1/2 (the build exited 1)')).toBe('faas-devbox:latest step 1/2 (the build exited 1)');
  });

  it('in the error: message, step and log without host paths', () => {
    const e = new DevboxImageUnavailableError('could not be built (npm ERR! /srv/operator/.npm/_logs/debug.log)', {
      image: 'faas-devbox:latest',
      state: 'failed',
      step: 'caching in /var/cache/faas-devbox',
      startedAt: 0,
      log: '/srv/operator/.faas/logs/devbox-build-faas-devbox_latest.log',
      error: 'x',
    });
    const body = JSON.stringify(e.toJSON());
    expect(body).not.toMatch(/\/srv\/|\/var\/cache/);
    expect(e.toJSON().details).toMatchObject({ step: 'caching in …/faas-devbox', log: 'devbox-build-faas-devbox_latest.log' });
  });
});
