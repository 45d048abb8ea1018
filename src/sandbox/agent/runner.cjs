'use strict';
// A spare node process of the in-sandbox agent (see agent.py).
// `runner.cjs LANGUAGE --spare CTRL_FD STAT_FD` boots ahead of time (for typescript it also
// loads the compiler), then blocks on CTRL_FD until the agent hands it a program:
// {source, cwd, env}. It writes its own CPU time so far to STAT_FD (a JSON line), so the
// boot is not billed to the user, runs the program as `node main.js` would, and as it
// exits writes {exit, cpu, maxrss} there too.
// `runner.cjs LANGUAGE --direct SOURCE` runs SOURCE at once.
const fs = require('fs');
const path = require('path');
const Module = require('module');

const language = process.argv[2] || 'javascript';
const direct = process.argv[3] === '--direct';

let ts = null;
if (language === 'typescript') {
  // Debian installs the compiler outside node's default search path.
  for (const p of ['typescript', '/usr/share/nodejs/typescript', '/usr/lib/node_modules/typescript']) {
    try { ts = require(p); break; } catch { /* next */ }
  }
}

function readAll(fd) {
  const chunks = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    let n;
    try {
      n = fs.readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      if (e.code === 'EAGAIN') continue;
      if (e.code === 'EOF') break;
      throw e;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function isEsm(code) {
  return /^\s*(import\s+[\w{*'"]|export\s)/m.test(code) || /\bimport\.meta\b/.test(code);
}

function run(source, cwd, env) {
  if (cwd) process.chdir(cwd);
  if (env) {
    for (const k of Object.keys(process.env)) delete process.env[k];
    Object.assign(process.env, env);
  }
  let code = fs.readFileSync(source, 'utf8');
  let file = source;
  if (language === 'typescript') {
    if (!ts) throw new Error('the typescript compiler is not installed in this image');
    const esm = isEsm(code);
    const out = ts.transpileModule(code, {
      fileName: source,
      reportDiagnostics: true,
      compilerOptions: {
        target: ts.ScriptTarget.ES2022,
        module: esm ? ts.ModuleKind.ES2022 : ts.ModuleKind.CommonJS,
        esModuleInterop: true,
        sourceMap: false,
      },
    });
    const syntax = (out.diagnostics || []).filter((d) => d.category === ts.DiagnosticCategory.Error);
    if (syntax.length) {
      for (const d of syntax) {
        const msg = ts.flattenDiagnosticMessageText(d.messageText, '\n');
        const pos = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : null;
        process.stderr.write(`${path.basename(source)}${pos ? `(${pos.line + 1},${pos.character + 1})` : ''}: error TS${d.code}: ${msg}\n`);
      }
      process.exitCode = 1;
      return;
    }
    code = out.outputText;
    file = source.replace(/\.ts$/, esm ? '.mjs' : '.js');
    fs.writeFileSync(file, code);
  } else if (isEsm(code)) {
    file = source.replace(/\.js$/, '.mjs');
    fs.writeFileSync(file, code);
  }
  process.argv = [process.argv[0], file];
  // Let user modules resolve packages next to their working directory, as `node main.js` in cwd would.
  module.paths.unshift(path.join(process.cwd(), 'node_modules'));
  if (file.endsWith('.mjs')) {
    import(file).catch((e) => { process.nextTick(() => { throw e; }); });
  } else {
    Module.runMain(file);
  }
}

if (direct) {
  run(process.argv[4], null, null);
} else {
  const ctrl = Number(process.argv[4]);
  const stat = Number(process.argv[5]);
  const req = JSON.parse(readAll(ctrl));
  fs.closeSync(ctrl);
  const u = process.cpuUsage();
  try { fs.writeSync(stat, JSON.stringify({ baseline: (u.user + u.system) / 1e6 }) + '\n'); } catch { /* agent gone */ }
  // On a normal exit, report how it ended at once, so the agent need not wait for teardown.
  // Node prints an uncaught exception only after 'exit' handlers ran: then report nothing
  // (and keep stderr open for the trace); the agent learns the end from wait4 instead.
  let uncaught = false;
  process.on('uncaughtExceptionMonitor', () => { uncaught = true; });
  process.on('exit', (code) => {
    if (uncaught) return;
    const r = process.resourceUsage();
    try {
      fs.closeSync(1);
      fs.closeSync(2);
    } catch { /* already closed */ }
    const report = { exit: code, cpu: (r.userCPUTime + r.systemCPUTime) / 1e6, maxrss: r.maxRSS };
    try { fs.writeSync(stat, JSON.stringify(report) + '\n'); } catch { /* agent gone */ }
  });
  run(req.source, req.cwd, req.env);
}
