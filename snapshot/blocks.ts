// Block checksums of a snapshot file: the sha256 of each fixed-size block of its bytes, in order,
// the last block short (an empty file has none). A file listed with blocks can be verified by
// several threads or requests at once, each a block's range, where one whole-file sha256 can only
// be computed by one thread from the first byte to the last. An offline build's shard writes its
// part's files with blocks only (computed in its one hash pass while it writes); every reader of
// such a file verifies the blocks (publish, the sidecar's download, the snapshot validator and
// reader). Files with a whole-file `sha256` (every snapshot written before, and the single-file
// ones still written) are verified as before.
//
// API:
//   BLOCK_BYTES = 16 MiB (the shard's block size; a manifest names its own)
//   interface FileBlocks { bytes: number; sha256: string[] }   block size, each block's sha256
//   blockCount(fileBytes, blockBytes) → number                  ceil(fileBytes / blockBytes)
//   blockRange(blocks, fileBytes, i) → { start, end }           block i's bytes [start, end)
//   class BlockHasher(blockBytes) { update(bytes); digest() → FileBlocks }   one pass, blocks out
//   class FileVerifier(name, entry) { update(bytes); mismatch(says?) → string | undefined; finish() }
//     one pass, a listed file checked: its whole sha256 or each block's, as the entry lists;
//     mismatch says what differs (the first block that differs, with its offset), finish throws
//     SnapshotError checksum with the file's name and that
//   blockMismatch(name, blocks, fileBytes, i, got) → SnapshotError   block i of name differs
import { createHash, type Hash } from 'node:crypto';
import { SnapshotError } from './errors.js';

/**
 * The block size the shard writes. Measured (bench/embed-publish.ts, 200,000 items, a 102 MB
 * matrix): 16 MiB gives 7 blocks, enough to keep 2–4 threads busy to the end, and per-block costs
 * (a positioned read, a message, an S3 request) stay small beside hashing 16 MiB (~9 ms).
 */
export const BLOCK_BYTES = 16 * 1024 ** 2;

export interface FileBlocks {
  /** the block size: every block but the last holds exactly this many bytes */
  bytes: number;
  /** each block's sha256 (lowercase hex), in file order */
  sha256: string[];
}

export function blockCount(fileBytes: number, blockBytes: number): number {
  return Math.ceil(fileBytes / blockBytes);
}

export function blockRange(blocks: FileBlocks, fileBytes: number, i: number): { start: number; end: number } {
  const start = i * blocks.bytes;
  return { start, end: Math.min(start + blocks.bytes, fileBytes) };
}

/** Hashes a file's bytes as they are written, block by block: one pass, no whole-file digest. */
export class BlockHasher {
  private hash: Hash = createHash('sha256');
  private inBlock = 0;
  private readonly done: string[] = [];

  constructor(readonly blockBytes: number) {
    if (!Number.isInteger(blockBytes) || blockBytes <= 0)
      throw new RangeError(`block size ${blockBytes} is not a positive integer`);
  }

  update(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      const take = Math.min(this.blockBytes - this.inBlock, bytes.length - at);
      this.hash.update(bytes.subarray(at, at + take));
      this.inBlock += take;
      at += take;
      if (this.inBlock === this.blockBytes) {
        this.done.push(this.hash.digest('hex'));
        this.hash = createHash('sha256');
        this.inBlock = 0;
      }
    }
  }

  digest(): FileBlocks {
    if (this.inBlock > 0) this.done.push(this.hash.digest('hex'));
    this.inBlock = 0;
    return { bytes: this.blockBytes, sha256: [...this.done] };
  }
}

/** The refusal of block i of a file whose manifest lists `want` for it. */
export function blockMismatch(
  name: string,
  blocks: FileBlocks,
  fileBytes: number,
  i: number,
  got: string,
): SnapshotError {
  return new SnapshotError('checksum', `${name}: ${blockMismatchReason(blocks, fileBytes, i, got)}`, name);
}

function blockMismatchReason(
  blocks: FileBlocks,
  fileBytes: number,
  i: number,
  got: string,
  says = 'manifest says',
): string {
  const { start, end } = blockRange(blocks, fileBytes, i);
  return `block ${i} (bytes ${start}–${end - 1}): sha256 ${got}, ${says} ${blocks.sha256[i]}`;
}

/** Checks a listed file's bytes, streamed once in order, against its whole sha256 or its blocks. */
export class FileVerifier {
  private readonly whole?: Hash;
  private readonly blocks?: BlockHasher;
  private bytes = 0;

  constructor(
    readonly name: string,
    readonly entry: { sha256?: string; bytes: number; blocks?: FileBlocks },
  ) {
    if (entry.blocks) this.blocks = new BlockHasher(entry.blocks.bytes);
    else this.whole = createHash('sha256');
  }

  update(bytes: Uint8Array): void {
    this.bytes += bytes.length;
    if (this.whole) this.whole.update(bytes);
    else this.blocks!.update(bytes);
  }

  /**
   * What differs, without the file's name: the whole sha256, or the first block that differs (or
   * the block count); undefined when the bytes match. `says` words the expected digest's source
   * (publish checks a part against "its manifest"). Call once, after the last update.
   */
  mismatch(says = 'manifest says'): string | undefined {
    const { entry } = this;
    if (this.whole) {
      const got = this.whole.digest('hex');
      return got === entry.sha256 ? undefined : `sha256 ${got}, ${says} ${entry.sha256}`;
    }
    const got = this.blocks!.digest().sha256;
    const want = entry.blocks!;
    for (let i = 0; i < Math.max(got.length, want.sha256.length); i++)
      if (got[i] !== want.sha256[i]) {
        if (got[i] === undefined || want.sha256[i] === undefined)
          return `${this.bytes} bytes read make ${got.length} blocks of ${want.bytes}, the manifest lists ${want.sha256.length}`;
        return blockMismatchReason(want, this.bytes, i, got[i]!, says);
      }
    return undefined;
  }

  /** Throws SnapshotError checksum naming the file and what differs (see mismatch). */
  finish(): void {
    const why = this.mismatch();
    if (why !== undefined) throw new SnapshotError('checksum', `${this.name}: ${why}`, this.name);
  }
}
