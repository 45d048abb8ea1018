// The network of instances that asked for one (`network: true`): a bridge of its own with
// inter-container traffic off, fenced by firewall.ts from this host and its neighbours.
import type Docker from 'dockerode';
import { SandboxError } from '@faas/sdk/errors';
import { MANAGED_NETWORK_LABEL } from '../labels.js';
import { INSTANCE_NETWORK } from './container.js';
import { fenceInstanceBridge } from './firewall.js';

export class InstanceNetwork {
  /** The instance bridge whose firewall this manager installed. */
  private fenced: string | null = null;

  constructor(private readonly docker: Docker) {}

  /** Makes the network if missing and installs its firewall once per bridge; fails closed. */
  async ensure(): Promise<void> {
    type NetInfo = { Id: string; Options?: Record<string, string> };
    const inspect = () => this.docker.getNetwork(INSTANCE_NETWORK).inspect().then((n: NetInfo) => n, () => null);
    let info = await inspect();
    if (!info) {
      // Its own bridge with inter-container traffic off: an instance reaches out, never another instance.
      await this.docker
        .createNetwork({ Name: INSTANCE_NETWORK, Driver: 'bridge', Labels: { [MANAGED_NETWORK_LABEL]: 'true' }, Options: { 'com.docker.network.bridge.enable_icc': 'false' } })
        .catch((err: Error & { statusCode?: number }) => {
          if (err.statusCode !== 409) throw err;
        });
      info = await inspect();
      if (!info) throw new SandboxError(`the instance network ${INSTANCE_NETWORK} could not be made`);
    }
    // ... and never this host, its neighbours or the metadata address (firewall.ts); fails closed.
    const bridge = info.Options?.['com.docker.network.bridge.name'] ?? `br-${info.Id.slice(0, 12)}`;
    if (this.fenced === bridge) return;
    try {
      await fenceInstanceBridge(bridge);
    } catch (err) {
      throw new SandboxError(`the instance network's firewall could not be installed, so no instance gets network: ${(err as Error).message}`);
    }
    this.fenced = bridge;
  }
}
