// A directory of router tables (the namespace's shared router: one ConfigMap key, so one file, per
// RankingModel), merged into the one table the proxy consults. Each `*.json` file is a version-1 table
// (router/table.ts) and is judged alone: a file that does not parse, or names a model another file
// already serves, is refused (its previous good content keeps serving, the other files load).
//
// Polling stays cheap with a thousand files: where the kubelet's `..data` link exists (a ConfigMap
// volume swaps it for every update, keys added or removed included), one readlink per tick decides
// whether anything changed; elsewhere a readdir and a stat per file. A changed file is read and hashed,
// and parsed only when its content changed. Entries starting with `.` are the kubelet's own
// (`..data`, `..2026_12_06_...`) and are skipped: the visible names are symlinks through `..data`.
import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  contentSha256,
  parseTable,
  type ModelRoute,
  type RouterTable,
  type RouterTableSpec,
} from './table.js';

/** What the directory holds for one file: its last good table, and why its newest content was refused. */
interface FileState {
  statKey: string;
  /** sha256 of the newest content read (refused or not): a refused content is not parsed again. */
  seenSha256: string;
  /** The newest content that parsed (undefined: none yet). */
  parsed?: RouterTable;
  /** The content merged into the served table (may trail `parsed` when that one clashed). */
  served?: RouterTable;
  /** Why the newest content cannot be read or parsed ('' when it can). */
  problem: string;
  reason: 'invalid' | 'unreadable';
  /** Why the newest content clashes with another file ('' when it does not). */
  clash: string;
  /** The problem last reported, so that each is reported once. */
  reported: string;
}

export interface FileProblem {
  file: string;
  reason: 'invalid' | 'unreadable';
  message: string;
}

export interface DirectoryCheck {
  /** The merged table when it changed (or on the first read), else undefined. */
  table?: RouterTable;
  /** The refused or unreadable files not reported before (every one when forced). */
  problems: FileProblem[];
}

export class TableDirectory {
  private readonly files = new Map<string, FileState>();
  private dataLink: string | undefined;
  private mergedSha256 = '';

  constructor(readonly path: string) {}

  /** Re-reads what changed (everything when `force`); the merged table when it changed. */
  async check(force: boolean): Promise<DirectoryCheck> {
    const link = await readlink(join(this.path, '..data')).catch(() => undefined);
    if (!force && link !== undefined && link === this.dataLink && this.mergedSha256 !== '')
      return { problems: [] };
    this.dataLink = link;

    const names = (await readdir(this.path)).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
    for (const gone of [...this.files.keys()].filter((n) => !names.includes(n))) this.files.delete(gone);
    await Promise.all(
      names.map(async (name) => {
        const state = this.files.get(name) ?? {
          statKey: '',
          seenSha256: '',
          problem: '',
          reason: 'invalid',
          clash: '',
          reported: '',
        };
        this.files.set(name, state);
        try {
          const st = await stat(join(this.path, name));
          const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
          if (!force && key === state.statKey) return;
          state.statKey = key;
          const content = await readFile(join(this.path, name), 'utf8');
          const sha256 = contentSha256(content);
          if (sha256 === state.seenSha256 && !force) return;
          state.seenSha256 = sha256;
          try {
            state.parsed = parseTable(content, sha256);
            state.problem = '';
          } catch (err) {
            state.problem = (err as Error).message;
            state.reason = 'invalid';
          }
        } catch (err) {
          state.statKey = '';
          state.seenSha256 = '';
          state.problem = `cannot read router table: ${(err as Error).message}`;
          state.reason = 'unreadable';
        }
      }),
    );
    this.merge();
    const merged = this.mergedTable();
    const problems = this.problems(force);
    if (merged.sha256 === this.mergedSha256) return { problems };
    this.mergedSha256 = merged.sha256;
    return { table: merged, problems };
  }

  /**
   * Decides what each file serves: the files whose served content still parses as their newest first
   * (they hold their models), then the others in name order; a file whose newest content names a model
   * already taken is refused, and serves its previous content if that clashes with nothing.
   */
  private merge(): void {
    const owner = new Map<string, string>();
    const take = (name: string, t: RouterTable | undefined): string | undefined => {
      if (!t) return undefined;
      for (const m of t.models.keys()) {
        const other = owner.get(m);
        if (other !== undefined && other !== name) return `model "${m}" is also in ${other}`;
      }
      for (const m of t.models.keys()) owner.set(m, name);
      return undefined;
    };
    const steady = [...this.files].filter(([, s]) => s.served !== undefined && s.served === s.parsed);
    const moving = [...this.files].filter(([, s]) => !(s.served !== undefined && s.served === s.parsed));
    for (const [name, s] of steady) take(name, s.served);
    for (const [, s] of steady) s.clash = '';
    for (const [name, s] of moving) {
      const clash = take(name, s.parsed);
      s.clash = clash ?? '';
      if (clash === undefined) s.served = s.parsed;
      else s.served = take(name, s.served) === undefined ? s.served : undefined;
    }
  }

  private mergedTable(): RouterTable {
    const models = new Map<string, ModelRoute>();
    const specModels: RouterTableSpec['models'] = {};
    const digest: string[] = [];
    for (const [name, s] of [...this.files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (!s.served) continue;
      digest.push(`${name}:${s.served.sha256}`);
      for (const [m, route] of s.served.models) models.set(m, route);
      Object.assign(specModels, s.served.spec.models);
    }
    return {
      spec: { version: 1, revision: `${digest.length} files`, models: specModels },
      sha256: contentSha256(digest.join('\n')),
      models,
    };
  }

  private problems(all: boolean): FileProblem[] {
    const out: FileProblem[] = [];
    for (const [file, s] of this.files) {
      const message = s.problem || (s.clash ? `refused: ${s.clash}` : '');
      if (message !== '' && (all || message !== s.reported))
        out.push({ file, reason: s.problem ? s.reason : 'invalid', message });
      s.reported = message;
    }
    return out;
  }

  /** The files refused or unreadable now, with why (for /readyz and /table). */
  get refused(): FileProblem[] {
    return [...this.files]
      .filter(([, s]) => s.problem || s.clash)
      .map(([file, s]) => ({
        file,
        reason: s.problem ? s.reason : 'invalid',
        message: s.problem || `refused: ${s.clash}`,
      }));
  }

  /** Whether `path` is a directory (a missing path is not). */
  static async isDirectory(path: string): Promise<boolean> {
    return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
  }
}
