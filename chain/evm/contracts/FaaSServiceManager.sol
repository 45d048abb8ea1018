// SPDX-License-Identifier: MIT
pragma solidity 0.8.26;

/// The Tangle (tnt-core) views this manager reads back.
interface ITangleServiceViews {
    function getServiceOperators(uint64 serviceId) external view returns (address[] memory);
}

/// @title FaaSServiceManager
/// @notice The tangle-faas blueprint's service manager on tnt-core. Its one policy: a job call
///         stays open until every operator of the service has submitted its result (or a
///         quorum the service owner set), so each operator answers each call and clients
///         compare their signed statements off-chain. Results are plain `submitResult`s (no BLS
///         aggregation). Every other hook tnt-core calls accepts, or answers "protocol default".
contract FaaSServiceManager {
    /// The Tangle contract this manager serves (set at deployment, checked on every hook).
    address public immutable tangle;
    /// The blueprint it manages (bound once, by the Tangle contract, at `createBlueprint`).
    uint64 public blueprintId;
    address public blueprintOwner;
    bool public bound;

    /// serviceId => its owner (from `onServiceInitialized`).
    mapping(uint64 => address) public serviceOwner;
    /// serviceId => results that complete a call; 0 = every operator of the service.
    mapping(uint64 => uint32) public requiredResults;

    event RequiredResultsSet(uint64 indexed serviceId, uint32 required);

    error OnlyTangle(address caller);
    error AlreadyBound(uint64 blueprintId);
    error NotServiceOwner(uint64 serviceId, address caller);

    modifier onlyTangle() {
        if (msg.sender != tangle) revert OnlyTangle(msg.sender);
        _;
    }

    constructor(address tangle_) {
        tangle = tangle_;
    }

    // Blueprint and operators ------------------------------------------------------------

    function onBlueprintCreated(uint64 blueprintId_, address owner, address) external onlyTangle {
        if (bound) revert AlreadyBound(blueprintId);
        bound = true;
        blueprintId = blueprintId_;
        blueprintOwner = owner;
    }

    function onRegister(address, bytes calldata) external payable onlyTangle {}

    function onUnregister(address) external onlyTangle {}

    function onUpdatePreferences(address, bytes calldata) external payable onlyTangle {}

    /// Protocol default stake.
    function getMinOperatorStake() external pure returns (bool useDefault, uint256 minStake) {
        return (true, 0);
    }

    // Services -----------------------------------------------------------------------------

    function onRequest(uint64, address, address[] calldata, bytes calldata, uint64, address, uint256) external payable onlyTangle {}

    function onApprove(address, uint64, uint8) external payable onlyTangle {}

    function onReject(address, uint64) external onlyTangle {}

    function onServiceInitialized(uint64, uint64, uint64 serviceId, address owner, address[] calldata, uint64) external onlyTangle {
        serviceOwner[serviceId] = owner;
    }

    function onServiceTermination(uint64, address) external onlyTangle {}

    function canJoin(uint64, address) external pure returns (bool) {
        return true;
    }

    function onOperatorJoined(uint64, address, uint16) external onlyTangle {}

    function canLeave(uint64, address) external pure returns (bool) {
        return true;
    }

    function onOperatorLeft(uint64, address) external onlyTangle {}

    /// Payments in the chain's native currency only.
    function queryIsPaymentAssetAllowed(uint64, address asset) external pure returns (bool) {
        return asset == address(0);
    }

    /// Protocol default heartbeat interval and threshold (OperatorStatusRegistry's).
    function getHeartbeatInterval(uint64) external pure returns (bool useDefault, uint64 interval) {
        return (true, 0);
    }

    function getHeartbeatThreshold(uint64) external pure returns (bool useDefault, uint8 threshold) {
        return (true, 0);
    }

    // Jobs ---------------------------------------------------------------------------------

    function onJobCall(uint64, uint8, uint64, bytes calldata) external payable onlyTangle {}

    function onJobResult(uint64, uint8, uint64, address, bytes32, bytes calldata) external payable onlyTangle {}

    /// Results are checked off-chain against each operator's signed statement: no BLS.
    function requiresAggregation(uint64, uint8) external pure returns (bool) {
        return false;
    }

    /// The results that complete a call: the quorum the service owner set, at most the
    /// service's operator count; by default every operator of the service. Never 0 (tnt-core
    /// would complete the call at its first result).
    function getRequiredResultCount(uint64 serviceId, uint8) external view returns (uint32) {
        uint256 operators = ITangleServiceViews(tangle).getServiceOperators(serviceId).length;
        uint32 set = requiredResults[serviceId];
        if (operators == 0) return 1;
        if (set == 0 || set > operators) return uint32(operators);
        return set;
    }

    /// The service owner sets how many results complete a call (0: every operator). Operators
    /// whose result comes after that are refused by tnt-core (`JobAlreadyCompleted`).
    function setRequiredResults(uint64 serviceId, uint32 required) external {
        if (msg.sender != serviceOwner[serviceId]) revert NotServiceOwner(serviceId, msg.sender);
        requiredResults[serviceId] = required;
        emit RequiredResultsSet(serviceId, required);
    }
}
