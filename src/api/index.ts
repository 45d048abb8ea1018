// Public face of the HTTP/WebSocket API.
export { startApiServer } from './server.js';
export type { ApiOptions, ApiServer } from './server.js';
export type { ApiDeps, GatewayDeps } from './deps.js';
export { createGateway } from './gateway.js';
export type { GatewaySandbox } from './gateway.js';
export * from '@faas/sdk/wire';
