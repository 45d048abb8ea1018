// Public face of the HTTP/WebSocket API.
export { startApiServer } from './server.js';
export type { ApiDeps, ApiOptions, ApiServer, GatewayDeps } from './server.js';
export { createGateway } from './gateway.js';
export * from '@faas/sdk/wire';
