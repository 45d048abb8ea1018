// The instance network's fence (issue 13): an instance with `network: true` reaches the
// internet, never this host nor what sits beside it. Two chains of our own, rebuilt atomically
// (iptables-restore --noflush flushes and refills a chain it declares) each time the instance
// manager makes sure of its network:
//   FAAS-INSTANCES     jumped to from DOCKER-USER (forwarded traffic): from the instance bridge
//                      to link-local (169.254.0.0/16, the cloud metadata address among them),
//                      the private, shared and reserved ranges, and every network of the host's
//                      own interfaces -> REJECT (an immediate refusal; nothing leaves the host).
//   FAAS-INSTANCES-IN  jumped to from INPUT (traffic to the host itself, whichever of its
//                      addresses): from the instance bridge -> REJECT, but for replies to what
//                      the host opened.
// Fails closed: where the rules cannot be installed (not root, no iptables, no DOCKER-USER),
// an instance asking for network is refused.
import { execFile } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const FORWARD_CHAIN = 'FAAS-INSTANCES';
export const INPUT_CHAIN = 'FAAS-INSTANCES-IN';

/** Destinations an instance may never reach (besides the host's own networks). */
export const BLOCKED_RANGES = [
  '169.254.0.0/16', // link-local: cloud metadata (169.254.169.254) and friends
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10', // shared address space (carrier-grade NAT)
  '127.0.0.0/8',
  '0.0.0.0/8',
  '192.0.0.0/24',
  '198.18.0.0/15',
  '224.0.0.0/4', // multicast
  '240.0.0.0/4',
] as const;

/** The IPv4 networks of this host's interfaces (e.g. 192.0.2.0/24 for eth0 at 192.0.2.2/24). */
export function hostNetworks(): string[] {
  const out = new Set<string>();
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4' || a.internal || !a.cidr) continue;
      const bits = Number(a.cidr.split('/')[1]);
      const ip = a.address.split('.').reduce((n, o) => (n << 8) | Number(o), 0) >>> 0;
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      const net = (ip & mask) >>> 0;
      out.add(`${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join('.')}/${bits}`);
    }
  }
  return [...out].sort();
}

/** The iptables-restore input that (re)defines both chains for this bridge interface. */
export function fenceRules(bridge: string): string {
  const lines = ['*filter', `:${FORWARD_CHAIN} - [0:0]`, `:${INPUT_CHAIN} - [0:0]`];
  for (const net of [...BLOCKED_RANGES, ...hostNetworks()]) {
    lines.push(`-A ${FORWARD_CHAIN} -i ${bridge} -d ${net} -j REJECT --reject-with icmp-port-unreachable`);
  }
  lines.push(`-A ${FORWARD_CHAIN} -j RETURN`);
  lines.push(`-A ${INPUT_CHAIN} -i ${bridge} -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN`);
  lines.push(`-A ${INPUT_CHAIN} -i ${bridge} -p tcp -j REJECT --reject-with tcp-reset`);
  lines.push(`-A ${INPUT_CHAIN} -i ${bridge} -j REJECT --reject-with icmp-port-unreachable`);
  lines.push(`-A ${INPUT_CHAIN} -j RETURN`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

async function jumpFirst(chain: string, target: string): Promise<void> {
  const has = await run('iptables', ['-w', '5', '-C', chain, '-j', target]).then(() => true, () => false);
  if (!has) await run('iptables', ['-w', '5', '-I', chain, '1', '-j', target]);
}

/** Installs (or refreshes) the fence for the instance bridge. Idempotent. */
export async function fenceInstanceBridge(bridge: string): Promise<void> {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(bridge)) throw new Error(`not an interface name: ${bridge}`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('installing the instance network firewall needs root (iptables)');
  }
  await run('iptables', ['-w', '5', '-S', 'DOCKER-USER']); // Docker's own hook chain must be there
  await new Promise<void>((resolve, reject) => {
    const p = execFile('iptables-restore', ['-w', '5', '--noflush'], (err) => (err ? reject(err) : resolve()));
    p.stdin!.end(fenceRules(bridge));
  });
  await jumpFirst('DOCKER-USER', FORWARD_CHAIN);
  await jumpFirst('INPUT', INPUT_CHAIN);
}
