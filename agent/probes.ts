// Readiness and liveness probes of a container run as a local process: httpGet (2xx/3xx passes)
// and tcpSocket against the pod's loopback address, with the kubelet's defaults and thresholds.
// Probe kinds a local process cannot honour (exec, grpc) are refused when the container starts.
//
// API:
//   probeSettings(probe) → ProbeSettings                 defaults filled in
//   runProbe(probe, container, address) → Promise<boolean>
//   class ProbeLoop(probe, container, address, onResult)   start() / stop()
import { request } from 'node:http';
import { connect } from 'node:net';
import type { V1Container, V1Probe } from '@kubernetes/client-node';

export interface ProbeSettings {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

export function probeSettings(probe: V1Probe): ProbeSettings {
  return {
    initialDelayMs: (probe.initialDelaySeconds ?? 0) * 1000,
    periodMs: (probe.periodSeconds ?? 10) * 1000,
    timeoutMs: (probe.timeoutSeconds ?? 1) * 1000,
    successThreshold: probe.successThreshold ?? 1,
    failureThreshold: probe.failureThreshold ?? 3,
  };
}

/** Why a probe cannot run as a local process, or undefined when it can. */
export function unsupportedProbe(probe: V1Probe | undefined): string | undefined {
  if (!probe) return undefined;
  if (probe.exec) return 'exec probes';
  if (probe.grpc) return 'grpc probes';
  if (probe.httpGet && (probe.httpGet.scheme ?? 'HTTP') !== 'HTTP') return 'HTTPS probes';
  if (probe.httpGet?.host) return 'httpGet probes with a host';
  return undefined;
}

/** A probe's port: a number, or the name of one of the container's ports. */
export function resolvePort(port: number | string, container: V1Container): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const named = container.ports?.find((p) => p.name === port);
  if (!named) throw new Error(`container "${container.name}": probe port "${port}" names none of its ports`);
  return named.containerPort;
}

export function runProbe(probe: V1Probe, container: V1Container, address: string): Promise<boolean> {
  const { timeoutMs } = probeSettings(probe);
  if (probe.httpGet) {
    const get = probe.httpGet;
    const port = resolvePort(get.port, container);
    const headers = Object.fromEntries((get.httpHeaders ?? []).map((h) => [h.name, h.value]));
    return new Promise((resolve) => {
      const req = request(
        { host: address, port, path: get.path ?? '/', method: 'GET', headers, timeout: timeoutMs },
        (res) => {
          res.resume();
          const code = res.statusCode ?? 0;
          resolve(code >= 200 && code < 400);
        },
      );
      req.on('timeout', () => req.destroy(new Error('probe timed out')));
      req.on('error', () => resolve(false));
      req.end();
    });
  }
  if (probe.tcpSocket) {
    const port = resolvePort(probe.tcpSocket.port, container);
    return new Promise((resolve) => {
      const socket = connect({ host: address, port, timeout: timeoutMs });
      const done = (ok: boolean): void => {
        socket.destroy();
        resolve(ok);
      };
      socket.once('connect', () => done(true));
      socket.once('timeout', () => done(false));
      socket.once('error', () => done(false));
    });
  }
  return Promise.resolve(true);
}

const EAGER_PERIOD_MS = 1_000;

/**
 * Runs a probe every period after the initial delay and reports each change of verdict: passing
 * after `successThreshold` successes in a row, failing after `failureThreshold` failures in a row.
 */
export class ProbeLoop {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private successes = 0;
  private failures = 0;
  private verdict: boolean | undefined;

  constructor(
    private readonly probe: V1Probe,
    private readonly container: V1Container,
    private readonly address: string,
    private readonly onVerdict: (passing: boolean) => void,
    /** readiness: probe every second until the first success, so a pod turns Ready promptly */
    private readonly eagerUntilFirstPass = false,
  ) {}

  start(): void {
    this.schedule(probeSettings(this.probe).initialDelayMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), delayMs);
  }

  private async tick(): Promise<void> {
    const s = probeSettings(this.probe);
    const ok = await runProbe(this.probe, this.container, this.address);
    if (this.stopped) return;
    if (ok) {
      this.successes++;
      this.failures = 0;
      if (this.verdict !== true && this.successes >= s.successThreshold) this.report(true);
    } else {
      this.failures++;
      this.successes = 0;
      if (this.verdict !== false && this.failures >= s.failureThreshold) this.report(false);
    }
    const eager = this.eagerUntilFirstPass && this.verdict !== true;
    this.schedule(eager ? Math.min(s.periodMs, EAGER_PERIOD_MS) : s.periodMs);
  }

  private report(passing: boolean): void {
    this.verdict = passing;
    this.onVerdict(passing);
  }
}
