// Pod addresses of the local node agent. Every pod gets two addresses that differ only in their
// first octet: the pod IP the agent reports (in a /16 like 10.250.0.0/16, because the API server
// refuses loopback addresses in EndpointSlices) and the loopback address its processes bind to
// (127.250.x.y: the whole 127/8 is loopback on Linux). `localAddressOf(podIp)` maps one to the
// other for anything on this machine that wants to reach a pod by its IP.
//
// API:
//   localAddressOf(podIp: string): string            10.250.3.7 → 127.250.3.7
//   class AddressPool(podNetwork = '10.250')          allocate(ports) / release(podIp)
import { createServer } from 'node:net';

/** First two octets of the pod IPs the agent hands out: pod IPs are 10.250.x.y. */
export const DEFAULT_POD_NETWORK = '10.250';

export interface PodAddress {
  /** reported in status.podIP; what EndpointSlices list */
  podIp: string;
  /** 127.x.y.z the pod's processes bind to and probes reach */
  localAddress: string;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The loopback address a pod IP handed out by an agent maps to (first octet replaced by 127). */
export function localAddressOf(podIp: string): string {
  const m = IPV4.exec(podIp);
  if (!m || m.slice(1).some((o) => Number(o) > 255))
    throw new Error(`localAddressOf: "${podIp}" is not an IPv4 address`);
  return `127.${m[2]}.${m[3]}.${m[4]}`;
}

function checkNetwork(podNetwork: string): void {
  const m = /^(\d{1,3})\.(\d{1,3})$/.exec(podNetwork);
  if (!m || Number(m[1]) > 255 || Number(m[2]) > 255 || m[1] === '127' || m[1] === '0')
    throw new Error(
      `pod network "${podNetwork}": want the first two octets of a /16, not loopback (e.g. 10.250)`,
    );
}

/** Resolves true when `address:port` can be bound right now (nobody else listens there). */
function canBind(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Hands out pod addresses in `<podNetwork>.x.y` (x 0..255, y 1..254, never x.y = 0.1). Starts at
 * a random offset and skips addresses whose ports another process (another agent, a test) already
 * holds on the loopback side, so several agents on one machine rarely meet.
 */
export class AddressPool {
  private readonly used = new Set<string>();
  private next: number;
  private static readonly SIZE = 256 * 254;

  /** `start`: index of the first address tried (default random); x.y = 0.2 is index 1 */
  constructor(
    private readonly podNetwork = DEFAULT_POD_NETWORK,
    start = Math.floor(Math.random() * AddressPool.SIZE),
  ) {
    checkNetwork(podNetwork);
    this.next = start % AddressPool.SIZE;
  }

  /** A free address whose loopback side has every one of `ports` free; throws when none is left. */
  async allocate(ports: number[]): Promise<PodAddress> {
    for (let tried = 0; tried < AddressPool.SIZE; tried++) {
      const index = this.next;
      this.next = (this.next + 1) % AddressPool.SIZE;
      const x = Math.floor(index / 254);
      const y = (index % 254) + 1;
      if (x === 0 && y === 1) continue;
      const podIp = `${this.podNetwork}.${x}.${y}`;
      if (this.used.has(podIp)) continue;
      const localAddress = localAddressOf(podIp);
      const free = await Promise.all(ports.map((p) => canBind(localAddress, p)));
      if (!free.every(Boolean)) continue;
      this.used.add(podIp);
      return { podIp, localAddress };
    }
    throw new Error(`no free pod address left in ${this.podNetwork}.0.0/16`);
  }

  release(podIp: string): void {
    this.used.delete(podIp);
  }
}
