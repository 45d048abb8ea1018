// The order `npm start` builds the runtime images in, and the names of the bases (which must
// follow FAAS_IMAGE_TAG like the runtime images, so a checkout's build never replaces the
// shared `latest` base).
import { afterEach, describe, expect, it } from 'vitest';
import { BASE_OF_IMAGE, FIRST_JOB_LANGUAGE, IMAGE_OF_LANGUAGE, LANGUAGES, RUNTIME_IMAGES, baseImageTag, runtimeImagePlan, runtimeImageTag } from './index.js';

const tagBefore = process.env.FAAS_IMAGE_TAG;
afterEach(() => {
  if (tagBefore === undefined) delete process.env.FAAS_IMAGE_TAG;
  else process.env.FAAS_IMAGE_TAG = tagBefore;
});

describe('runtimeImagePlan', () => {
  it('builds only the first job’s image before npm start’s first result, the go image last', () => {
    const plan = runtimeImagePlan([FIRST_JOB_LANGUAGE]);
    expect(plan.first).toEqual([IMAGE_OF_LANGUAGE[FIRST_JOB_LANGUAGE]]);
    expect(plan.later).toEqual(RUNTIME_IMAGES.filter((i) => i !== IMAGE_OF_LANGUAGE[FIRST_JOB_LANGUAGE]).sort((a, b) => Number(a === 'go') - Number(b === 'go')));
    expect(plan.later.at(-1)).toBe('go');
    expect(FIRST_JOB_LANGUAGE).toBe('python');
  });

  it('covers every image exactly once, whatever the first languages', () => {
    for (const first of [[], ['go'], ['typescript', 'javascript'], LANGUAGES] as const) {
      const plan = runtimeImagePlan(first);
      expect([...plan.first, ...plan.later].sort()).toEqual([...RUNTIME_IMAGES].sort());
      for (const language of first) expect(plan.first).toContain(IMAGE_OF_LANGUAGE[language]);
    }
    expect(runtimeImagePlan(['typescript']).first).toEqual(['node']);
    expect(runtimeImagePlan(LANGUAGES).later).toEqual([]);
  });
});

describe('base image names', () => {
  it('only the go image is built on the go base', () => {
    expect(RUNTIME_IMAGES.filter((i) => BASE_OF_IMAGE[i] === 'base-go')).toEqual(['go']);
  });

  it('carry FAAS_IMAGE_TAG like the runtime images, `latest` without it', () => {
    process.env.FAAS_IMAGE_TAG = 'wt-x.1';
    expect(baseImageTag('base')).toBe('faas-base:wt-x.1');
    expect(baseImageTag('base-go')).toBe('faas-base-go:wt-x.1');
    expect(runtimeImageTag('python')).toBe('faas-python:wt-x.1');
    delete process.env.FAAS_IMAGE_TAG;
    expect(baseImageTag('base')).toBe('faas-base:latest');
    process.env.FAAS_IMAGE_TAG = 'bad tag';
    expect(() => baseImageTag('base')).toThrow(/FAAS_IMAGE_TAG/);
  });
});
