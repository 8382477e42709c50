// The sidecar against a storage server that misbehaves on purpose (helpers/hostile-storage.ts),
// over http:// with credentials in the URI, in the test's process so its pod reports can be read
// (helpers/in-process.ts). One sidecar serves v1; each case publishes a new version, makes storage
// misbehave on one path, points LATEST at it, and checks the outcome: refused with a named cause
// (and the refusal on the pod, as `lightrank.dev/snapshot-refused` carries it) or aborted and
// retried with a named cause (storage's LATEST on the pod, the old version still served) — and in
// every case the old version still current and ready, no temp files left, and memory bounded where
// a body could be large. Transfer limits are short (stall 0.4 s, floor 2000 B/s over 0.5 s) so the
// slow cases stay fast. The model's own cases follow, each with a sidecar of its own.
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TransferLimits } from '../../sidecar/download.js';
import { EMBEDDINGS_FILE, IDS_FILE, MANIFEST_FILE } from '../../snapshot/index.js';
import { writeLatest, writeModel, writeSnapshotVersion, type ModelFixture } from './helpers/fixtures.js';
import { HostileStorage, misbehave } from './helpers/hostile-storage.js';
import { editManifest, listAs } from './helpers/hostile-tree.js';
import { rssDuring, startInProcess, type InProcessSidecar } from './helpers/in-process.js';
import { waitFor } from './helpers/processes.js';

const LIMITS: TransferLimits = { stallMs: 400, minBytesPerSecond: 2000, rateWindowMs: 500 };
const SECRET = 's3cret-token';
const MiB = 1 << 20;

let work: string;
let www: string;
let snap: string;
let model: ModelFixture;
/** The storage server (the source's origin), another origin, and an origin allowed by name. */
let A: HostileStorage;
let B: HostileStorage;
let C: HostileStorage;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'lightrank-sidecar-hostile-'));
  www = path.join(work, 'www');
  snap = path.join(www, 'snap');
  model = await writeModel(path.join(www, 'models'));
  await writeSnapshotVersion(snap, 'v1', model.fingerprint);
  await writeLatest(snap, 'v1');
  A = new HostileStorage(www);
  B = new HostileStorage(www);
  C = new HostileStorage(www);
  for (const s of [A, B, C]) await s.start();
});

afterAll(async () => {
  for (const s of [A, B, C]) await s?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const sourceUri = (s: HostileStorage, p: string) => `http://reader:${SECRET}@127.0.0.1:${s.port}/${p}`;

describe('snapshots from hostile HTTP storage', () => {
  let h: InProcessSidecar;
  let serving = 'v1';
  let n = 1;
  const ids = 64 * 8;

  beforeAll(async () => {
    h = await startInProcess({
      dataDir: path.join(work, 'volume'),
      model: {
        uri: sourceUri(A, 'models/model.onnx'),
        sha256: model.sha256,
        version: 'm1',
        fingerprint: undefined,
      },
      snapshotUri: sourceUri(A, 'snap'),
      redirectOrigins: [C.url],
      limits: LIMITS,
    });
    await waitFor('served v1', () => h.calls.includes('served v1'));
  });
  afterAll(async () => h?.stop());
  afterEach(() => A.clear());

  /** A new good version in storage (not yet named by LATEST). */
  const publish = async (): Promise<string> => {
    const v = `v${++n}`;
    await writeSnapshotVersion(snap, v, model.fingerprint, 64, n * 1000);
    return v;
  };
  const file = (v: string, name: string) => `/snap/${v}/${name}`;
  /** The old version current and ready; no temp files (not while a retry may be mid-attempt). */
  const oldServes = async (idle = true) => {
    expect(await h.current()).toBe(serving);
    expect(h.sidecar.ready).toBe(true);
    if (idle) expect(await h.leftovers()).toEqual([]);
  };
  const refused = async (subject: string, cause: string) => {
    await waitFor(`${subject} refused (${cause})`, () =>
      h.calls.includes(`refused snapshot ${subject} ${cause}`),
    );
    expect(await h.failures(cause)).toBeGreaterThan(0);
    await oldServes();
    expect(h.refusals.join('\n')).not.toContain(SECRET);
  };
  /** Aborted and retried (at least twice) with `source_<code>`; storage's LATEST is on the pod. */
  const retried = async (v: string, code: string) => {
    const before = await h.failures(`source_${code}`);
    await waitFor(`${v} retried (${code})`, async () => (await h.failures(`source_${code}`)) >= before + 2);
    expect(h.calls).toContain(`latest ${v}`);
    expect(h.calls).not.toContain(`served ${v}`);
    await oldServes(false); // a retry may be mid-attempt: temp files are checked once it is healed
  };
  /** Storage behaves again: the version is published. */
  const healed = async (v: string) => {
    A.clear();
    await waitFor(`served ${v}`, () => h.calls.includes(`served ${v}`));
    serving = v;
    await oldServes();
  };

  it('a redirect of a file to another origin: refused (unsafe_redirect), the other origin never asked', async () => {
    const v = await publish();
    A.on(
      file(v, EMBEDDINGS_FILE),
      misbehave.redirect((p) => `${B.url}${p}`),
    );
    await writeLatest(snap, v);
    await refused(v, 'unsafe_redirect');
    expect(B.requests).toEqual([]);
    expect(h.refusals.at(-1)).toMatch(/redirects to http:\/\/127\.0\.0\.1:\d+, not the source's origin/);
  });

  it('a redirect of LATEST to another origin: refused (unsafe_redirect) on LATEST; cleared once it is back', async () => {
    A.on(
      '/snap/LATEST',
      misbehave.redirect((p) => `${B.url}${p}`, 301),
    );
    await refused('LATEST', 'unsafe_redirect');
    expect(B.requests).toEqual([]);
    A.clear();
    await writeLatest(snap, serving);
    await waitFor('refusal cleared', () => h.calls.at(-1) === 'accepted snapshot');
  });

  it('redirects within the origin and to an origin allowed by name are followed; credentials go to the origin only', async () => {
    const v = await publish();
    A.on(
      file(v, IDS_FILE),
      misbehave.redirect((p) => `/mirror${p}`, 307),
    );
    A.on(`/mirror${file(v, IDS_FILE)}`, (_req, _res, ctx) => ctx.serveFile(path.join(snap, v, IDS_FILE)));
    A.on(
      file(v, EMBEDDINGS_FILE),
      misbehave.redirect((p) => `${C.url}${p}`, 302),
    );
    await writeLatest(snap, v);
    await waitFor(`served ${v}`, () => h.calls.includes(`served ${v}`));
    serving = v;
    const basic = `Basic ${Buffer.from(`reader:${SECRET}`).toString('base64')}`;
    const onA = A.requests.filter((r) => r.path.startsWith(`/snap/${v}/`));
    expect(onA.length).toBeGreaterThanOrEqual(3);
    expect(onA.every((r) => r.headers.authorization === basic)).toBe(true);
    const onC = C.requests.filter((r) => r.path === file(v, EMBEDDINGS_FILE));
    expect(onC).toHaveLength(1);
    expect(onC[0]!.headers.authorization).toBeUndefined();
    expect(JSON.stringify(C.requests)).not.toContain(Buffer.from(`reader:${SECRET}`).toString('base64'));
  });

  it('a redirect loop: aborted and retried (source_redirect_loop), then served once storage behaves', async () => {
    const v = await publish();
    A.on(
      file(v, MANIFEST_FILE),
      misbehave.redirect(() => `/snap/${v}/elsewhere`),
    );
    A.on(
      file(v, 'elsewhere'),
      misbehave.redirect(() => file(v, MANIFEST_FILE)),
    );
    await writeLatest(snap, v);
    await retried(v, 'redirect_loop');
    await healed(v);
  });

  it('200 with an HTML error page: retried (source_bad_response), never parsed as a manifest', async () => {
    const v = await publish();
    A.on(file(v, MANIFEST_FILE), misbehave.htmlPage());
    await writeLatest(snap, v);
    await retried(v, 'bad_response');
    expect(await h.failures('manifest')).toBe(0);
    await healed(v);
  });

  it('a Content-Length over the manifest: refused (size) before a byte of the body is kept', async () => {
    const v = await publish();
    const size = (await readFile(path.join(snap, v, EMBEDDINGS_FILE))).length;
    A.on(file(v, EMBEDDINGS_FILE), misbehave.lyingLength(size * 2));
    const before = await h.downloaded();
    await writeLatest(snap, v);
    await refused(v, 'size');
    expect(h.refusals.at(-1)).toContain(`announces ${size * 2} bytes, the manifest says ${size}`);
    expect((await h.downloaded()) - before).toBe(ids); // ids.u64 only
  });

  it('a Content-Length under the manifest: refused (truncated) before reading', async () => {
    const v = await publish();
    const size = (await readFile(path.join(snap, v, EMBEDDINGS_FILE))).length;
    A.on(file(v, EMBEDDINGS_FILE), misbehave.lyingLength(size - 100, { send: size - 100 }));
    const before = await h.downloaded();
    await writeLatest(snap, v);
    await refused(v, 'truncated');
    expect((await h.downloaded()) - before).toBe(ids);
  });

  it('a Content-Length that agrees, followed by junk: only the announced bytes are read; published', async () => {
    const v = await publish();
    const size = (await readFile(path.join(snap, v, EMBEDDINGS_FILE))).length;
    A.on(file(v, EMBEDDINGS_FILE), misbehave.lyingLength(size, { append: 64 * 1024 }));
    const before = await h.downloaded();
    await writeLatest(snap, v);
    await healed(v);
    expect((await h.downloaded()) - before).toBe(ids + size);
  });

  it('a body that hangs up before its Content-Length: retried (source_interrupted)', async () => {
    const v = await publish();
    A.on(file(v, EMBEDDINGS_FILE), misbehave.stopsAfter(1000, 'close'));
    await writeLatest(snap, v);
    await retried(v, 'interrupted');
    await healed(v);
  });

  it('a body that stops mid-way and hangs: aborted by the stall timeout and retried (source_stalled)', async () => {
    const v = await publish();
    A.on(file(v, EMBEDDINGS_FILE), misbehave.stopsAfter(1000, 'hang'));
    await writeLatest(snap, v);
    await retried(v, 'stalled');
    await healed(v);
  });

  it('a server that never answers LATEST: aborted by the stall timeout, retried (source_stalled)', async () => {
    A.on('/snap/LATEST', () => undefined);
    const before = await h.failures('source_stalled');
    await waitFor('LATEST stalled twice', async () => (await h.failures('source_stalled')) >= before + 2);
    await oldServes();
  });

  it('one byte at a time: aborted under the rate floor and retried (source_too_slow)', async () => {
    const v = await publish();
    A.on(file(v, EMBEDDINGS_FILE), misbehave.trickle(100));
    await writeLatest(snap, v);
    await retried(v, 'too_slow');
    await healed(v);
  });

  it('an endless body: reading stops one chunk past the manifest (size), memory bounded', async () => {
    const v = await publish();
    const size = (await readFile(path.join(snap, v, EMBEDDINGS_FILE))).length;
    A.on(file(v, EMBEDDINGS_FILE), misbehave.endless());
    const { peak, before } = await rssDuring(async () => {
      await writeLatest(snap, v);
      await refused(v, 'size');
    });
    expect(h.refusals.at(-1)).toContain(`more than the ${size} bytes the manifest says`);
    expect(A.sentFor(file(v, EMBEDDINGS_FILE))).toBeLessThan(16 * MiB);
    expect(peak - before).toBeLessThan(64 * MiB);
  });

  it('an endless LATEST: refused (bad_version) after 1 KiB', async () => {
    A.on('/snap/LATEST', misbehave.endless({ fill: 0x76 }));
    await refused('LATEST', 'bad_version');
    expect(h.refusals.at(-1)).toContain('larger than 1024 bytes');
    A.clear();
    await writeLatest(snap, serving); // (it named the last refused version)
    await waitFor('refusal cleared', () => h.calls.at(-1) === 'accepted snapshot');
  });

  for (const announce of [true, false]) {
    it(`a 100 MB manifest${announce ? ' (announced)' : ' (chunked)'}: refused (manifest) without buffering it`, async () => {
      const v = await publish();
      A.on(file(v, MANIFEST_FILE), misbehave.huge(100 * MiB, announce));
      const { peak, before } = await rssDuring(async () => {
        await writeLatest(snap, v);
        await refused(v, 'manifest');
      });
      expect(h.refusals.at(-1)).toContain(
        announce ? 'announces 104857600 bytes' : 'larger than 1048576 bytes',
      );
      expect(A.sentFor(file(v, MANIFEST_FILE))).toBeLessThan(16 * MiB);
      expect(peak - before).toBeLessThan(64 * MiB);
    });
  }

  it('a LATEST that names a new version at every read: each refused once, the old version serving', async () => {
    const latest = misbehave.rotatingLatest((i) => `spin-${i}`);
    A.on('/snap/LATEST', latest);
    A.on(/^\/snap\/spin-\d+\/manifest\.json$/, misbehave.body('{"formatVersion":1}', 'application/json'));
    await waitFor(
      'ten versions refused',
      () => h.calls.filter((c) => /^refused snapshot spin-\d+ manifest$/.test(c)).length >= 10,
    );
    const refusedSpins = h.calls.filter((c) => c.startsWith('refused snapshot spin-'));
    expect(new Set(refusedSpins).size).toBe(refusedSpins.length); // each once
    await oldServes();
    A.clear();
    await writeLatest(snap, serving);
    await waitFor('back on LATEST', () => h.calls.at(-1) === 'accepted snapshot');
  });

  it("file names with '..', '/', NUL and unicode look-alikes: refused (unsafe_path) before any file is fetched", async () => {
    const names = [
      '../x',
      '..',
      'a/b',
      `${IDS_FILE}\u0000`,
      '\u0456ds.u64',
      '\uff45mbeddings.bin',
      `${EMBEDDINGS_FILE}\u200b`,
      'ids\u2024u64',
    ];
    for (const name of names) {
      const v = await publish();
      await listAs(snap, v, name.includes('mbeddings') ? EMBEDDINGS_FILE : IDS_FILE, name);
      await writeLatest(snap, v);
      await refused(v, 'unsafe_path');
      expect(A.requests.filter((r) => r.path.startsWith(`/snap/${v}/`)).map((r) => r.path)).toEqual([
        file(v, MANIFEST_FILE),
      ]);
    }
  });

  it("LATEST naming '..', NUL or look-alike versions: refused (bad_version) on LATEST", async () => {
    for (const value of ['../v1', 'v1/..', 'v1\u0000', '\uff56' + '1', '.tmp-x']) {
      await writeFile(path.join(snap, 'LATEST'), `${value}\n`);
      await refused('LATEST', 'bad_version');
      await writeLatest(snap, serving);
      await waitFor('refusal cleared', () => h.calls.at(-1) === 'accepted snapshot');
    }
  });

  it('a manifest whose files would not fit the volume: refused (too_large) before a byte is fetched', async () => {
    const v = await publish();
    const rows = 2 ** 44; // 128 TiB of ids, 1 PiB of embeddings: consistent with rows × tasks × dim
    await editManifest(snap, v, (m) => ({
      ...m,
      rows,
      files: {
        [IDS_FILE]: { sha256: 'a'.repeat(64), bytes: rows * 8 },
        [EMBEDDINGS_FILE]: { sha256: 'b'.repeat(64), bytes: rows * 2 * 8 * 4 },
      },
    }));
    await writeLatest(snap, v);
    await refused(v, 'too_large');
    expect(h.refusals.at(-1)).toMatch(/do not fit the \d+ bytes free on the volume/);
    expect(A.requests.filter((r) => r.path.startsWith(`/snap/${v}/`)).map((r) => r.path)).toEqual([
      file(v, MANIFEST_FILE),
    ]);
  });
});

describe('the model from hostile HTTP storage', () => {
  let h: InProcessSidecar | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
    A.clear();
  });

  const start = async (name: string, maxModelBytes?: number) => {
    h = await startInProcess({
      dataDir: path.join(work, `volume-model-${name}`),
      model: {
        uri: sourceUri(A, `models/${name}.onnx`),
        sha256: model.sha256,
        version: 'm1',
        fingerprint: undefined,
      },
      snapshotUri: sourceUri(A, 'snap'),
      limits: LIMITS,
      ...(maxModelBytes ? { maxModelBytes } : {}),
    });
    return h;
  };
  /** Not ready, no model; once stopped (the model is retried until then), no temp files. */
  const notReady = async (s: InProcessSidecar) => {
    expect(s.sidecar.ready).toBe(false);
    expect(await s.current('model')).toBeUndefined();
    await s.stop();
    expect(await s.leftovers('model')).toEqual([]);
  };

  it('an endless model file: refused (too_large) at the model cap, memory bounded, on the pod', async () => {
    A.on('/models/endless.onnx', misbehave.endless());
    const { peak, before } = await rssDuring(async () => {
      const s = await start('endless', 4 * MiB);
      await waitFor('model refused', () => s.calls.includes('refused model m1 too_large'));
      expect(s.refusals[0]).toContain('more than the model cap of 4194304 bytes');
      await notReady(s);
    });
    expect(A.sentFor('/models/endless.onnx')).toBeLessThan(32 * MiB);
    expect(peak - before).toBeLessThan(64 * MiB);
  });

  it('a model redirected to another origin: refused (unsafe_redirect)', async () => {
    A.on('/models/moved.onnx', misbehave.redirect(`${B.url}/models/model.onnx`));
    const s = await start('moved');
    await waitFor('model refused', () => s.calls.includes('refused model m1 unsafe_redirect'));
    expect(B.requests).toEqual([]);
    await notReady(s);
  });

  it('a model download that stalls: retried (source_stalled), then published when storage behaves', async () => {
    await copyFile(model.file, path.join(www, 'models/slow.onnx'));
    A.on('/models/slow.onnx', misbehave.stopsAfter(100, 'hang'));
    const s = await start('slow');
    await waitFor('stalled twice', async () => (await s.failures('source_stalled', 'model')) >= 2);
    expect(s.sidecar.ready).toBe(false);
    A.clear();
    await waitFor('model in place', async () => (await s.current('model')) === 'm1');
    expect(await s.leftovers('model')).toEqual([]);
  });
});
