// Outbound network for instances: only where the operator allows it (FAAS_INSTANCE_NETWORK=
// allowed), only for an instance that asks, recorded in its usage; instances on that network
// cannot reach one another (inter-container traffic is off on its bridge).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaaSClient } from '../../src/index.js';
import { startInstanceGateway } from './fixtures.js';
import type { InstanceGateway } from './fixtures.js';

let gw: InstanceGateway;
let sdk: FaaSClient;

beforeAll(async () => {
  gw = await startInstanceGateway({ FAAS_INSTANCE_NETWORK: 'allowed' });
  sdk = new FaaSClient({ endpoint: gw.url, apiKey: gw.keys.create('net').key });
});

afterAll(async () => {
  await gw?.close();
});

describe('instance network opt-in', () => {
  it('an instance that asks gets an interface and a route; one that does not has only lo; the opt-in is in usage', async () => {
    const [withNet, without] = await Promise.all([sdk.instances.start({ network: true, resources: { diskGb: 0.1 } }), sdk.instances.start({ resources: { diskGb: 0.1 } })]);
    expect(withNet.network).toBe(true);
    expect((await sdk.instances.exec(withNet.id, { command: 'ls /sys/class/net | sort | tr "\\n" " "' })).stdout).toMatch(/eth0/);
    expect((await sdk.instances.exec(withNet.id, { command: 'cat /proc/net/route | wc -l' })).stdout.trim()).not.toBe('1');
    expect((await sdk.instances.exec(without.id, { command: 'ls /sys/class/net' })).stdout.trim()).toBe('lo');

    // Two instances on the network do not reach each other.
    const peer = await sdk.instances.start({ network: true, resources: { diskGb: 0.1 } });
    await sdk.instances.exec(peer.id, { command: '(setsid nohup python3 -m http.server 8000 --bind 0.0.0.0 >/dev/null 2>&1 &); sleep 0.5' });
    const ip = (await sdk.instances.exec(peer.id, { command: "python3 -c \"import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(('10.255.255.255', 1)); print(s.getsockname()[0])\"" })).stdout.trim();
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const self = await sdk.instances.exec(peer.id, { command: `for i in $(seq 50); do python3 -c "import socket; socket.create_connection(('${ip}', 8000), timeout=2); print('reached')" 2>/dev/null && break; sleep 0.1; done` });
    expect(self.stdout).toMatch(/reached/); // it serves on that address
    const probe = await sdk.instances.exec(withNet.id, { command: `python3 -c "import socket; socket.create_connection(('${ip}', 8000), timeout=2); print('reached')" 2>&1 | tail -1` });
    expect(probe.stdout).not.toMatch(/reached/);

    await Promise.all([withNet, without, peer].map((i) => sdk.instances.stop(i.id)));
    const rows = gw.db.prepare("SELECT mode FROM usage WHERE execution_id IN (?, ?) ORDER BY mode").all(withNet.id, without.id) as Array<{ mode: string }>;
    expect(rows.map((r) => r.mode)).toEqual(['instance', 'instance+network']);
  }, 120_000);
});
