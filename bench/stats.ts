// Shared by the bench sections: percentiles, the flat results object, timing loops.
export const results: Record<string, number> = {};
export const say = (s: string) => process.stdout.write(`${s}\n`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const r2 = (n: number) => Math.round(n * 100) / 100;

export function pct(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** Records `<name>_p50_ms` and `<name>_p95_ms`; returns the p50. */
export function record(name: string, samples: number[]): number {
  const p50 = pct(samples, 50);
  const p95 = pct(samples, 95);
  results[`${name}_p50_ms`] = r2(p50);
  results[`${name}_p95_ms`] = r2(p95);
  say(`  ${name.padEnd(36)} p50 ${p50.toFixed(2).padStart(8)} ms   p95 ${p95.toFixed(2).padStart(8)} ms   (n=${samples.length})`);
  return p50;
}

export async function timeIt(n: number, paceMs: number, fn: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
    if (paceMs) await sleep(paceMs);
  }
  return out;
}

export function check(out: string, want: string, what: string): void {
  if (out !== want) throw new Error(`${what}: expected ${JSON.stringify(want.slice(0, 80))}, got ${JSON.stringify(out.slice(0, 80))}`);
}
