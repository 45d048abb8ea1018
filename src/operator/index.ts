// Public face of the operator. The job contract (codecs, statement, signing) is blueprint/'s.
export { Operator, NO_IMAGE, DEFAULT_RECOVERY_BLOCKS } from './operator.js';
export type { OperatorDeps } from './operator.js';
export { startOperatorService } from './service.js';
export type { OperatorService, OperatorServiceOptions } from './service.js';
