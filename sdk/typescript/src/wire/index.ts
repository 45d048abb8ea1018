// The wire contract of the FaaS API: request and response schemas (zod, the one source of the
// types), shared by the SDK and the operator's gateway.
export * from './execute.js';
export * from './instances.js';
export * from './api.js';
export * from './usage.js';
