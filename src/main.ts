// `npm start`: the operator's main job. At this stage (sandbox engine only) it starts the
// engine on the local Docker host and runs a hello world in every language and mode, with
// timings, then shuts down cleanly. The chain listener and API gateway come with later issues.
import { loadConfig } from './config.js';
import { FaaSError } from './errors.js';
import { createLogger } from './log.js';
import { DockerSandboxEngine, LANGUAGES } from './sandbox/index.js';
import type { Language } from './sandbox/index.js';

const HELLO: Record<Language, string> = {
  python: 'import sys; print(f"hello from python {sys.version.split()[0]}")',
  javascript: 'console.log(`hello from javascript (node ${process.version})`)',
  typescript: 'const greet = (who: string): string => `hello from ${who}`;\nconsole.log(greet("typescript"));',
  bash: 'echo "hello from bash $BASH_VERSION"',
  go: 'package main\n\nimport (\n\t"fmt"\n\t"runtime"\n)\n\nfunc main() { fmt.Println("hello from go", runtime.Version()) }\n',
};

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const engine = new DockerSandboxEngine(config, log);
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out('starting the sandbox engine (Docker, warm pools)...');
  await engine.start();
  const stop = async () => {
    await engine.shutdown();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());

  out('\nlanguage     mode        ms      output');
  for (const language of LANGUAGES) {
    for (const mode of ['ephemeral', 'cached'] as const) {
      // Twice in cached mode: the first call assigns a warm container, the second reuses it.
      for (const pass of mode === 'cached' ? [1, 2] : [1]) {
        const t = performance.now();
        try {
          const r = await engine.execute({ code: HELLO[language], language, mode }, { owner: 'demo' });
          const ms = (performance.now() - t).toFixed(1).padStart(7);
          out(`${language.padEnd(12)} ${(mode + (pass === 2 ? ' (2)' : '')).padEnd(11)} ${ms}   ${(r.stdout || r.stderr).trim()}`);
        } catch (err) {
          const e = err instanceof FaaSError ? `${err.code}: ${err.message}` : String(err);
          out(`${language.padEnd(12)} ${mode.padEnd(11)}    fail   ${e}`);
        }
      }
    }
  }
  const bad = await engine.execute({ code: 'print(1)', language: 'cobol' } as never).catch((e: FaaSError) => e);
  out(`\nbad input is a typed error, not a crash: ${bad instanceof FaaSError ? `${bad.code} — ${bad.message}` : 'unexpected success'}`);
  out('\nstats: ' + JSON.stringify(engine.stats()));
  await engine.shutdown();
  out('engine stopped; every container it started is removed.');
}

main().catch((err: unknown) => {
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
