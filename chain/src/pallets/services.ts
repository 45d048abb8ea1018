// pallet_services (Tangle v1.4.3): blueprints, operator registration, service requests and
// approvals, job calls and results — the checks, storage and events of the real pallet, as
// described in chain/NOTES-services-pallet.md. The real pallet also calls EVM hooks
// (blueprint service managers); this node has no EVM, so every hook counts as allowed.
import type { Codec } from '@polkadot/types/types';
import { operatorStatus } from './multi-asset-delegation.js';
import { typeCheck } from './field-type-check.js';
import { nextId, read, write } from './store.js';
import { DispatchError, signerOf } from './types.js';
import type { DispatchContext, Pallet } from './types.js';

const S = 'services';
const err = (ctx: DispatchContext, name: string, payload?: unknown) => DispatchError.module(ctx.runtime, 'Services', name, payload);

type Struct = Codec & Record<string, Codec & { toNumber?: () => number }>;
const list = (c: Codec): Codec[] => [...(c as unknown as Iterable<Codec>)];
const accounts = (c: Codec): string[] => list(c).map((a) => a.toString());
const num = (c: Codec): number => Number(c.toString());

function requireActiveOperator(ctx: DispatchContext, who: string): void {
  if (operatorStatus(ctx, who) !== 'Active') throw err(ctx, 'OperatorNotActive');
}

function blueprintOf(ctx: DispatchContext, id: bigint | number): { owner: string; blueprint: Struct } {
  const entry = read<[Codec, Struct]>(ctx, S, 'blueprints', id);
  if (!entry) throw err(ctx, 'BlueprintNotFound');
  return { owner: entry[0].toString(), blueprint: entry[1] };
}

function checkTypes(ctx: DispatchContext, args: Codec, params: Codec): void {
  const problem = typeCheck(args, params);
  if (problem) throw err(ctx, 'TypeCheck', problem);
}

/** A stored BTreeSet<u64> (or none yet) with `value` added, ready to write back. */
function withAdded(set: Codec | null | undefined, value: bigint): bigint[] {
  const ids = new Set((set ? list(set) : []).map((x) => BigInt(x.toString())));
  ids.add(value);
  return [...ids];
}

/** A struct codec's fields by name, to write it back with some of them changed. */
function fieldsOf(struct: Struct): Record<string, Codec> {
  return Object.fromEntries(Object.keys(struct.toJSON() as object).map((k) => [k, struct[k]!]));
}

export const services: Pallet = {
  section: 'services',
  calls: {
    updateMasterBlueprintServiceManager: (ctx, [address]) => {
      if (ctx.origin !== 'root') throw DispatchError.badOrigin;
      const revisions = list(read(ctx, S, 'masterBlueprintServiceManagerRevisions') ?? ctx.runtime.registry.createType('Vec<H160>'));
      write(ctx, S, 'masterBlueprintServiceManagerRevisions', [], [...revisions, address]);
      ctx.events.emit(ctx.phase, 'Services', 'MasterBlueprintServiceManagerRevised', { revision: revisions.length, address });
    },

    createBlueprint: (ctx, [blueprint]) => {
      const owner = signerOf(ctx);
      const bp = blueprint as Struct;
      const revisions = list(read(ctx, S, 'masterBlueprintServiceManagerRevisions') ?? ctx.runtime.registry.createType('Vec<H160>'));
      const rev = bp.masterManagerRevision as unknown as { isLatest: boolean; asSpecific: Codec };
      const pinned = rev.isLatest ? Math.max(revisions.length - 1, 0) : num(rev.asSpecific);
      if (pinned >= revisions.length) throw err(ctx, 'MasterBlueprintServiceManagerRevisionNotFound');
      const id = nextId(ctx, S, 'nextBlueprintId');
      const stored = { ...fieldsOf(bp), masterManagerRevision: { Specific: pinned } };
      write(ctx, S, 'blueprints', [id], [owner, stored]);
      ctx.events.emit(ctx.phase, 'Services', 'BlueprintCreated', { owner, blueprintId: id });
    },

    register: (ctx, [blueprintId, preferences, registrationArgs, value]) => {
      const operator = signerOf(ctx);
      const id = BigInt(blueprintId!.toString());
      requireActiveOperator(ctx, operator);
      const prefs = preferences as Struct;
      if (prefs.key!.toU8a().every((b) => b === 0)) throw err(ctx, 'InvalidKey');
      if (read(ctx, S, 'operators', id, operator)) throw err(ctx, 'AlreadyRegistered');
      const keyHex = prefs.key!.toHex();
      // Operators(blueprint, *): the Identity-hashed blueprint id follows the 32-byte pallet+item prefix.
      const prefix = ctx.runtime.key(S, 'operators', id, operator).slice(0, 2 + 64 + 16) as `0x${string}`;
      for (const k of ctx.storage.keysWithPrefix(prefix)) {
        const other = ctx.runtime.decodeValue(S, 'operators', ctx.storage.get(k)) as Struct;
        if (other.key!.toHex() === keyHex) throw err(ctx, 'DuplicateKey');
      }
      const { blueprint } = blueprintOf(ctx, id);
      checkTypes(ctx, registrationArgs!, blueprint.registrationParams!);
      if (BigInt(value!.toString()) !== 0n) throw new DispatchError('Other', 'registration payments are not supported on this development node');
      write(ctx, S, 'operators', [id, operator], prefs);
      const profile = read<Struct>(ctx, S, 'operatorsProfile', operator);
      write(ctx, S, 'operatorsProfile', [operator], { services: profile ? profile.services : [], blueprints: withAdded(profile?.blueprints, id) });
      ctx.events.emit(ctx.phase, 'Services', 'Registered', { provider: operator, blueprintId: id, preferences: prefs, registrationArgs });
    },

    request: (ctx, [_evmOrigin, blueprintId, permittedCallers, operators, requestArgs, requirements, ttl, _paymentAsset, value, membership]) => {
      const owner = signerOf(ctx);
      const id = BigInt(blueprintId!.toString());
      const ops = accounts(operators!);
      for (const op of ops) requireActiveOperator(ctx, op);
      if (new Set(ops).size !== ops.length) throw err(ctx, 'DuplicateOperator');
      const { blueprint } = blueprintOf(ctx, id);
      const model = membership as unknown as { isFixed: boolean; asFixed: Struct; asDynamic: Struct; type: string };
      const supported = list(blueprint.supportedMembershipModels!).map((m) => m.toString());
      if (!supported.includes(model.type)) throw err(ctx, 'UnsupportedMembershipModel');
      const min = num((model.isFixed ? model.asFixed : model.asDynamic).minOperators!);
      if ((model.isFixed && min === 0) || ops.length < min) throw err(ctx, 'TooFewOperators');
      if (!model.isFixed) {
        const max = model.asDynamic.maxOperators as unknown as { isSome: boolean; unwrap(): Codec };
        if (max.isSome && ops.length > num(max.unwrap())) throw err(ctx, 'TooManyOperators');
      }
      for (const op of ops) if (!read(ctx, S, 'operators', id, op)) throw err(ctx, 'NotRegistered');
      checkTypes(ctx, requestArgs!, blueprint.requestParams!);
      if (BigInt(value!.toString()) !== 0n) throw new DispatchError('Other', 'request payments are not supported on this development node');
      const reqs = (list(requirements!) as Struct[]).map((r) => r.toJSON() as { asset: Record<string, unknown>; minExposurePercent: number; maxExposurePercent: number });
      if (reqs.length === 0) throw err(ctx, 'NoAssetsProvided');
      const native = reqs.find((r) => 'custom' in r.asset && Number(r.asset.custom) === 0);
      if (native && native.minExposurePercent < 10) throw err(ctx, 'NativeAssetExposureTooLow');
      if (!native) reqs.push({ asset: { custom: 0 }, minExposurePercent: 10, maxExposurePercent: 100 });
      const requestId = nextId(ctx, S, 'nextServiceRequestId');
      write(ctx, S, 'serviceRequests', [requestId], {
        blueprint: id,
        owner,
        securityRequirements: reqs,
        ttl,
        args: requestArgs,
        permittedCallers,
        operatorsWithApprovalState: ops.map((op) => [op, 'Pending']),
        membershipModel: membership,
      });
      ctx.events.emit(ctx.phase, 'Services', 'ServiceRequested', {
        owner,
        requestId,
        blueprintId: id,
        pendingApprovals: ops,
        approved: [],
        securityRequirements: reqs,
      });
    },

    approve: (ctx, [requestId, commitments]) => {
      const operator = signerOf(ctx);
      const rid = BigInt(requestId!.toString());
      const request = read<Struct>(ctx, S, 'serviceRequests', rid);
      if (!request) throw err(ctx, 'ServiceRequestNotFound');
      requireActiveOperator(ctx, operator);
      const reqs = list(request.securityRequirements!) as Struct[];
      const given = list(commitments!) as Struct[];
      for (const r of reqs) {
        const c = given.find((x) => x.asset!.toHex() === r.asset!.toHex());
        if (!c) throw err(ctx, 'MissingAssetCommitment');
        if (num(c.exposurePercent!) < num(r.minExposurePercent!)) throw err(ctx, 'CommitmentBelowMinimum');
        if (num(c.exposurePercent!) > num(r.maxExposurePercent!)) throw err(ctx, 'CommitmentAboveMaximum');
      }
      if (given.some((c) => !reqs.some((r) => r.asset!.toHex() === c.asset!.toHex()))) throw err(ctx, 'UnexpectedAssetCommitment');
      if (given.length !== reqs.length || given.some((c, i) => c.asset!.toHex() !== reqs[i]!.asset!.toHex())) {
        throw err(ctx, 'InvalidSecurityCommitments');
      }
      const states = (list(request.operatorsWithApprovalState!) as unknown as [Codec, Codec][]).map(([op, st]) => [op.toString(), st] as [string, unknown]);
      const mine = states.findIndex(([op]) => op === operator);
      if (mine < 0) throw err(ctx, 'ApprovalNotRequested');
      states[mine] = [operator, { Approved: { securityCommitments: commitments } }];
      const bpId = BigInt(request.blueprint!.toString());
      blueprintOf(ctx, bpId);
      if (!read(ctx, S, 'operators', bpId, operator)) throw err(ctx, 'NotRegistered');
      const isApproved = (st: unknown) => typeof st === 'object' && st !== null && ('Approved' in st || (st as { isApproved?: boolean }).isApproved === true);
      const approved = states.filter(([, st]) => isApproved(st)).map(([op]) => op);
      const pending = states.filter(([, st]) => !isApproved(st)).map(([op]) => op);
      ctx.events.emit(ctx.phase, 'Services', 'ServiceRequestApproved', { operator, requestId: rid, blueprintId: bpId, pendingApprovals: pending, approved });
      const model = request.membershipModel as unknown as { isFixed: boolean; asFixed: Struct; asDynamic: Struct };
      const min = num((model.isFixed ? model.asFixed : model.asDynamic).minOperators!);
      if (approved.length < min) {
        write(ctx, S, 'serviceRequests', [rid], { ...fieldsOf(request), operatorsWithApprovalState: states });
        return;
      }
      // Enough approvals: the request becomes a service.
      write(ctx, S, 'serviceRequests', [rid], null);
      const serviceId = nextId(ctx, S, 'nextInstanceId');
      const operatorCommitments = states.filter(([, st]) => isApproved(st)).map(([op, st]) => [op, (st as { Approved?: { securityCommitments: Codec } }).Approved?.securityCommitments ?? (st as { asApproved: Struct }).asApproved.securityCommitments]);
      for (const [op] of operatorCommitments) {
        const profile = read<Struct>(ctx, S, 'operatorsProfile', op);
        if (!profile) throw err(ctx, 'NotRegistered');
        write(ctx, S, 'operatorsProfile', [op], { services: withAdded(profile.services, serviceId), blueprints: profile.blueprints });
      }
      write(ctx, S, 'instances', [serviceId], {
        id: serviceId,
        blueprint: bpId,
        owner: request.owner,
        args: request.args,
        operatorSecurityCommitments: operatorCommitments,
        securityRequirements: request.securityRequirements,
        permittedCallers: request.permittedCallers,
        ttl: request.ttl,
        membershipModel: request.membershipModel,
      });
      write(ctx, S, 'serviceStatus', [bpId, serviceId], undefined); // a unit value: the entry's presence is the status
      const owner = request.owner!.toString();
      write(ctx, S, 'userServices', [owner], withAdded(read(ctx, S, 'userServices', owner), serviceId));
      ctx.events.emit(ctx.phase, 'Services', 'ServiceInitiated', {
        owner: request.owner,
        requestId: rid,
        serviceId,
        blueprintId: bpId,
        operatorSecurityCommitments: operatorCommitments,
      });
    },

    call: (ctx, [serviceId, job, args]) => {
      const caller = signerOf(ctx);
      const sid = BigInt(serviceId!.toString());
      const service = read<Struct>(ctx, S, 'instances', sid);
      if (!service) throw err(ctx, 'ServiceNotFound');
      const { blueprint } = blueprintOf(ctx, BigInt(service.blueprint!.toString()));
      if (service.owner!.toString() !== caller && !accounts(service.permittedCallers!).includes(caller)) throw DispatchError.badOrigin;
      const jobs = list(blueprint.jobs!) as Struct[];
      const j = num(job!);
      if (j >= jobs.length) throw err(ctx, 'JobDefinitionNotFound');
      if (list(args!).length > 256) throw err(ctx, 'MaxFieldsExceeded');
      checkTypes(ctx, args!, jobs[j]!.params!);
      const callId = nextId(ctx, S, 'nextJobCallId');
      write(ctx, S, 'jobCalls', [sid, callId], { serviceId: sid, job: j, args });
      ctx.events.emit(ctx.phase, 'Services', 'JobCalled', { caller, serviceId: sid, callId, job: j, args });
    },

    submitResult: (ctx, [serviceId, callId, result]) => {
      const operator = signerOf(ctx);
      const sid = BigInt(serviceId!.toString());
      const cid = BigInt(callId!.toString());
      const jobCall = read<Struct>(ctx, S, 'jobCalls', sid, cid);
      if (!jobCall) throw err(ctx, 'ServiceOrJobCallNotFound');
      const service = read<Struct>(ctx, S, 'instances', sid);
      if (!service) throw err(ctx, 'ServiceNotFound');
      const bpId = BigInt(service.blueprint!.toString());
      const { blueprint } = blueprintOf(ctx, bpId);
      if (!read(ctx, S, 'operators', bpId, operator)) throw err(ctx, 'NotRegistered');
      const jobs = list(blueprint.jobs!) as Struct[];
      const j = num(jobCall.job!);
      if (j >= jobs.length) throw err(ctx, 'JobDefinitionNotFound');
      if (list(result!).length > 256) throw err(ctx, 'MaxFieldsExceeded');
      checkTypes(ctx, result!, jobs[j]!.result!);
      write(ctx, S, 'jobResults', [sid, cid], { serviceId: sid, callId: cid, result });
      ctx.events.emit(ctx.phase, 'Services', 'JobResultSubmitted', { operator, serviceId: sid, callId: cid, job: j, result });
    },
  },
};
