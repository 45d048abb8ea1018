// Public face of the operator.
export { Operator } from './operator.js';
export type { OperatorDeps } from './operator.js';
export { outputHash, operatorSigningKey, signOutput, verifyOutput, resultFields, capBytes } from './result.js';
export type { OutputToSign } from './result.js';
export { startOperatorService } from './service.js';
export type { OperatorService, OperatorServiceOptions } from './service.js';
