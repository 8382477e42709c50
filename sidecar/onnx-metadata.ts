// Reads an ONNX file's `metadata_props` (where lightrank keeps `lightrank.fingerprint`) without
// decoding the graph: it walks the top-level fields of the ModelProto message on disk, skips
// every field but metadata_props (field 14) by its length, and decodes only those small entries.
// Cost: a few small reads, whatever the size of the weights.
import { open, type FileHandle } from 'node:fs/promises';
import onnxProto from 'onnx-proto';

const METADATA_PROPS_FIELD = 14;

/** Key/value metadata of the ONNX model at `file`; throws if the file is not a protobuf message. */
export async function readOnnxMetadata(file: string): Promise<Map<string, string>> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const props = new Map<string, string>();
    let pos = 0;
    while (pos < size) {
      const tag = await readVarint(fh, pos, file);
      pos = tag.next;
      const field = Math.floor(tag.value / 8);
      const wireType = tag.value % 8;
      if (wireType === 0) {
        pos = (await readVarint(fh, pos, file)).next;
      } else if (wireType === 1) {
        pos += 8;
      } else if (wireType === 5) {
        pos += 4;
      } else if (wireType === 2) {
        const len = await readVarint(fh, pos, file);
        pos = len.next;
        if (field === METADATA_PROPS_FIELD) {
          const buf = Buffer.alloc(len.value);
          await fh.read(buf, 0, len.value, pos);
          const entry = onnxProto.onnx.StringStringEntryProto.decode(buf);
          props.set(entry.key, entry.value);
        }
        pos += len.value;
      } else {
        throw new Error(`${file}: not an ONNX model (protobuf wire type ${wireType} at byte ${pos})`);
      }
    }
    if (pos !== size) throw new Error(`${file}: not an ONNX model (last field runs past the end)`);
    return props;
  } finally {
    await fh.close();
  }
}

async function readVarint(
  fh: FileHandle,
  pos: number,
  file: string,
): Promise<{ value: number; next: number }> {
  const buf = Buffer.alloc(10);
  const { bytesRead } = await fh.read(buf, 0, 10, pos);
  let value = 0;
  for (let i = 0; i < bytesRead; i++) {
    const byte = buf[i]!;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) {
      if (!Number.isSafeInteger(value)) break;
      return { value, next: pos + i + 1 };
    }
  }
  throw new Error(`${file}: not an ONNX model (bad varint at byte ${pos})`);
}
