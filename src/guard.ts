// The operator process's last line of defence. Bytes from inside a sandbox or an instance are
// parsed defensively where they arrive; should a throw still escape into an event callback (or
// a promise be left unhandled), node's default is to print and exit, which would take every
// tenant's executions, instances and chain jobs down with it. Installed by the operator's entry
// points (src/main.ts, `operator run`): such an error is logged with pino and the process keeps
// serving. Never a silent exit.
import type { Logger } from 'pino';

let installed: Logger | null = null;
let count = 0;

/** Errors the guard has caught so far (tests read it). */
export const guardedErrors = (): number => count;

export function installProcessGuard(log: Logger): void {
  if (installed) return;
  installed = log;
  process.on('uncaughtException', (err, origin) => {
    count++;
    log.error({ err, origin }, 'uncaught exception: the operator keeps serving');
  });
  process.on('unhandledRejection', (reason) => {
    count++;
    log.error({ err: reason instanceof Error ? reason : new Error(String(reason)) }, 'unhandled promise rejection: the operator keeps serving');
  });
}
