'use strict';
// Helpers for programs running in a FaaS sandbox (resolvable as `faas` in every runtime image):
//   require('faas').progress(40, 'loading')          // CommonJS
//   import { progress } from 'faas'; progress(40)    // ES modules
// Each call sends one progress report (percent 0..100, an optional message) of the running
// execution to whoever started it. Outside a sandbox (no FAAS_PROGRESS_FD) it does nothing.
// Returns true when the report was sent.
const fs = require('fs');

function progress(percent, message = '') {
  const p = typeof percent === 'string' && percent.trim() !== '' ? Number(percent) : percent;
  if (typeof p !== 'number' || Number.isNaN(p)) throw new TypeError('progress: percent must be a number');
  const fd = Number(process.env.FAAS_PROGRESS_FD);
  if (!process.env.FAAS_PROGRESS_FD || !Number.isInteger(fd) || fd < 0) return false;
  const line = JSON.stringify({ percent: Math.min(100, Math.max(0, p)), message: String(message).slice(0, 1000) }) + '\n';
  try {
    fs.writeSync(fd, line);
    return true;
  } catch {
    return false;
  }
}

module.exports = { progress };
