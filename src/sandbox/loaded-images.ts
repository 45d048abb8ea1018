// The runtime images an engine runs (by id, for the statement's image hash), and those it was
// told are on their way: npm start builds all but its first job's image after its first result,
// and an execution in such a language waits for its image instead of being refused at once
// (a chain job arriving then would otherwise get a signed error result).
import { ResourceUnavailableError } from '@faas/sdk/errors';
import { runtimeImageTag } from './images.js';
import type { RuntimeImage } from './images.js';

/** How long an execution waits for an image announced with expect() (npm start builds them in ~1-2 min). */
export const IMAGE_WAIT_MS = 180_000;

export class LoadedImages {
  private readonly ids = new Map<RuntimeImage, `0x${string}`>();
  private readonly coming = new Map<RuntimeImage, { added: Promise<void>; settle: () => void }>();

  id(image: RuntimeImage): `0x${string}` | undefined {
    return this.ids.get(image);
  }

  set(image: RuntimeImage, id: `0x${string}`): void {
    this.ids.set(image, id);
    this.settle(image);
  }

  /** Images being built that will be set(): executions in their languages wait for them. */
  expect(images: readonly RuntimeImage[]): void {
    for (const image of images) {
      if (this.ids.has(image) || this.coming.has(image)) continue;
      let settle!: () => void;
      const added = new Promise<void>((r) => (settle = r));
      this.coming.set(image, { added, settle });
    }
  }

  /** The expected images will not come (their build failed): whoever waits is refused now. */
  giveUp(images: readonly RuntimeImage[]): void {
    for (const image of images) this.settle(image);
  }

  /** RESOURCE_UNAVAILABLE (field `language`) unless the image is loaded. */
  require(image: RuntimeImage, language: string): void {
    if (!this.ids.has(image)) throw notReady(image, language);
  }

  /** Resolves once the image is loaded; waits up to `waitMs` for an expected one, else RESOURCE_UNAVAILABLE. */
  async whenLoaded(image: RuntimeImage, language: string, waitMs = IMAGE_WAIT_MS): Promise<void> {
    const coming = this.coming.get(image);
    if (!this.ids.has(image) && coming) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([coming.added, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
      clearTimeout(timer);
    }
    this.require(image, language);
  }

  private settle(image: RuntimeImage): void {
    this.coming.get(image)?.settle();
    this.coming.delete(image);
  }
}

function notReady(image: RuntimeImage, language: string): ResourceUnavailableError {
  return new ResourceUnavailableError('language', `the runtime image ${runtimeImageTag(image)} of ${language} is not ready yet (still being built, or the engine has not started); try again shortly`);
}
