// Public face of the HTTP/WebSocket API.
export { startApiServer } from './server.js';
export type { ApiDeps, ApiOptions, ApiServer } from './server.js';
