// The package's public face: what users import.
export * from './sandbox/index.js';
export { loadConfig } from './config.js';
export type { Config, SandboxLimits } from './config.js';
export * from './errors.js';
export { createLogger } from './log.js';
