// The parts of tnt-core's interface the operator and the client use, written out (no artifacts
// needed at run time). Events as the facets emit them: JobSubmitted's jobIndex is NOT indexed
// (tnt-core's ITangleJobs says it is; decoding real logs with that declaration fails).
import { parseAbi } from 'viem';

export const tangleAbi = parseAbi([
  'event JobSubmitted(uint64 indexed serviceId, uint64 indexed callId, uint8 jobIndex, address caller, bytes inputs)',
  'event JobResultSubmitted(uint64 indexed serviceId, uint64 indexed callId, address indexed operator, bytes result)',
  'event JobCompleted(uint64 indexed serviceId, uint64 indexed callId)',
  'event BlueprintCreated(uint64 indexed blueprintId, address indexed owner, address manager, string metadataUri, bytes32 metadataHash)',
  'event ServiceRequested(uint64 indexed requestId, uint64 indexed blueprintId, address indexed requester, uint8 confidentiality)',
  'event ServiceActivated(uint64 indexed serviceId, uint64 indexed requestId, uint64 indexed blueprintId, uint8 confidentiality)',
  'event OperatorRegistered(uint64 indexed blueprintId, address indexed operator, bytes ecdsaPublicKey, string rpcAddress)',
  'event OperatorPreferencesUpdated(uint64 indexed blueprintId, address indexed operator, bytes ecdsaPublicKey, string rpcAddress)',
  'function submitJob(uint64 serviceId, uint8 jobIndex, bytes inputs) payable returns (uint64 callId)',
  'function submitResult(uint64 serviceId, uint64 callId, bytes result)',
  'function registerOperator(uint64 blueprintId, bytes ecdsaPublicKey, string rpcAddress)',
  'function requestService(uint64 blueprintId, address[] operators, bytes config, address[] permittedCallers, uint64 ttl, address paymentToken, uint256 paymentAmount, uint8 confidentiality) payable returns (uint64 requestId)',
  'struct Asset { uint8 kind; address token; }',
  'struct Commitment { Asset asset; uint16 exposureBps; }',
  'struct Tee { uint8 backend; bytes32 expectedMeasurement; bytes32 nonceBinding; uint64 expiresAt; }',
  'struct Approval { uint64 requestId; Commitment[] securityCommitments; uint256[4] blsPubkey; uint256[2] blsPopSignature; Tee[] teeCommitments; }',
  'function approveService(Approval params)',
  'struct Service { uint64 blueprintId; address owner; uint64 createdAt; uint64 ttl; uint64 terminatedAt; uint64 lastPaymentAt; uint32 operatorCount; uint32 minOperators; uint32 maxOperators; uint8 membership; uint8 pricing; uint8 status; uint8 confidentiality; }',
  'function getService(uint64 serviceId) view returns (Service)',
  'function serviceCount() view returns (uint64)',
  'function getServiceOperators(uint64 serviceId) view returns (address[])',
  'struct JobCall { uint8 jobIndex; address caller; uint64 createdAt; uint32 resultCount; bool completed; bool isRFQ; uint256 payment; }',
  'function getJobCall(uint64 serviceId, uint64 callId) view returns (JobCall)',
  'struct Preferences { bytes ecdsaPublicKey; string rpcAddress; }',
  'function getOperatorPreferences(uint64 blueprintId, address operator) view returns (Preferences)',
  'function updateOperatorPreferences(uint64 blueprintId, bytes ecdsaPublicKey, string rpcAddress)',
  'error JobAlreadyCompleted(uint64 serviceId, uint64 callId)',
  'error ResultAlreadySubmitted(uint64 serviceId, uint64 callId, address operator)',
  'error NotPermittedCaller(uint64 serviceId, address caller)',
  'error OperatorNotInService(uint64 serviceId, address operator)',
  'error ServiceNotActive(uint64 serviceId)',
  'function isOperatorRegistered(uint64 blueprintId, address operator) view returns (bool)',
  'function operatorStatusRegistry() view returns (address)',
]);

/** tnt-core's OperatorStatusRegistry: liveness heartbeats per service (EIP-712 signed). */
export const statusRegistryAbi = parseAbi([
  'function submitHeartbeat(uint64 serviceId, uint64 blueprintId, uint8 statusCode, bytes metrics, uint64 timestamp, bytes signature)',
  'struct HeartbeatConfig { uint64 interval; uint8 maxMissed; bool customMetrics; }',
  'function getHeartbeatConfig(uint64 serviceId) view returns (HeartbeatConfig)',
  'struct OperatorState { uint256 lastHeartbeat; uint64 consecutiveBeats; uint8 missedBeats; uint8 status; bytes32 lastMetricsHash; }',
  'function getOperatorState(uint64 serviceId, address operator) view returns (OperatorState)',
  'function isOnline(uint64 serviceId, address operator) view returns (bool)',
  'function isRegisteredOperator(uint64 serviceId, address operator) view returns (bool)',
  'event HeartbeatReceived(uint64 indexed serviceId, uint64 indexed blueprintId, address indexed operator, uint8 statusCode, uint256 timestamp)',
  'error NotRegisteredOperator()',
  'error InvalidSignature()',
  'error HeartbeatStale(uint64 signed, uint64 now_)',
  'error HeartbeatFromFuture(uint64 signed, uint64 now_)',
  'error OperatorSlashed()',
]);

export const stakingAbi = parseAbi([
  'function registerOperator() payable',
  'function isOperator(address operator) view returns (bool)',
]);
