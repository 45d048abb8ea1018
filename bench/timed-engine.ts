// An engine that times each execution the operator asks for: the execution share of a chain
// job's round trip (bench/chain.ts, bench/evm.ts).
import type { ExecuteOptions, ExecuteRequestInput, ExecuteResult, Language, SandboxEngine } from '../src/sandbox/index.js';

export class TimedEngine implements SandboxEngine {
  readonly times: number[] = [];
  constructor(private readonly inner: SandboxEngine) {}
  start = () => this.inner.start();
  stats = () => this.inner.stats();
  imageHash = (language: Language) => this.inner.imageHash(language);
  shutdown = () => this.inner.shutdown();
  async execute(req: ExecuteRequestInput, o?: ExecuteOptions): Promise<ExecuteResult> {
    const t = performance.now();
    try {
      return await this.inner.execute(req, o);
    } finally {
      this.times.push(performance.now() - t);
    }
  }
}
