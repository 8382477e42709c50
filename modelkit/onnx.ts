// A thin builder over onnx-proto's protobuf classes: initializers, nodes, typed graph inputs and
// outputs with symbolic dims, and model encoding with metadata. Every graph the model kit emits
// goes through here (no hand-written protobuf bytes).
//
// API:
//   OPSET = 17; IR_VERSION = 8
//   class GraphBuilder {
//     constructor(name: string)
//     input(name, type: 'float32'|'int64', dims: (number|string)[]): string
//     output(name, type: 'float32'|'int64', dims: (number|string)[]): void
//     initializer(name, data: Float32Array | Uint16Array(float16 bits) | BigInt64Array, dims: number[],
//                 external?: { location: string; offset: number }): string
//     constInt64(values: number[]): string                    a named int64 initializer
//     node(op: string, inputs: string[], attrs?: Record<string, number|number[]|string>, outputs?: number): string[]
//     op(op, inputs, attrs?): string                          single-output node
//     bind(value: string, outputName: string): void           Identity into a named graph output
//     encode(metadata: Record<string, string>): Uint8Array     ModelProto bytes
//   }
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type INodeProto = onnxProto.onnx.INodeProto;
type IValueInfoProto = onnxProto.onnx.IValueInfoProto;
type IAttributeProto = onnxProto.onnx.IAttributeProto;

export const OPSET = 17;
export const IR_VERSION = 8;

const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

function elemType(type: 'float32' | 'int64'): number {
  return type === 'float32' ? DT.FLOAT : DT.INT64;
}

function valueInfo(name: string, type: 'float32' | 'int64', dims: (number | string)[]): IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: elemType(type),
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: number | number[] | string): IAttributeProto {
  if (typeof value === 'string') return { name, type: AT.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: AT.INTS, ints: value };
  if (Number.isInteger(value)) return { name, type: AT.INT, i: value };
  return { name, type: AT.FLOAT, f: value };
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

export class GraphBuilder {
  private readonly nodes: INodeProto[] = [];
  private readonly inits: ITensorProto[] = [];
  private readonly inputs: IValueInfoProto[] = [];
  private readonly outputs: IValueInfoProto[] = [];
  private counter = 0;

  constructor(readonly name: string) {}

  private fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  input(name: string, type: 'float32' | 'int64', dims: (number | string)[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(name: string, type: 'float32' | 'int64', dims: (number | string)[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  initializer(
    name: string,
    data: Float32Array | Uint16Array | BigInt64Array,
    dims: number[],
    external?: { location: string; offset: number },
  ): string {
    const dataType =
      data instanceof Float32Array ? DT.FLOAT : data instanceof Uint16Array ? DT.FLOAT16 : DT.INT64;
    const count = dims.reduce((a, b) => a * b, 1);
    if (!external && data.length !== count) {
      throw new RangeError(`initializer ${name}: ${data.length} values for dims [${dims.join(',')}]`);
    }
    const tensor: ITensorProto = { name, dims, dataType };
    if (external) {
      tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      tensor.externalData = [
        { key: 'location', value: external.location },
        { key: 'offset', value: String(external.offset) },
        { key: 'length', value: String(count * data.BYTES_PER_ELEMENT) },
      ];
    } else {
      tensor.rawData = bytesOf(data);
    }
    this.inits.push(tensor);
    return name;
  }

  constInt64(values: number[]): string {
    return this.initializer(this.fresh('const'), BigInt64Array.from(values, BigInt), [values.length]);
  }

  node(
    op: string,
    inputs: string[],
    attrs: Record<string, number | number[] | string> = {},
    outputs = 1,
  ): string[] {
    const base = this.fresh(op.toLowerCase());
    const outs = Array.from({ length: outputs }, (_, i) => (outputs === 1 ? base : `${base}_${i}`));
    this.nodes.push({
      name: base,
      opType: op,
      input: inputs,
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  op(op: string, inputs: string[], attrs: Record<string, number | number[] | string> = {}): string {
    return this.node(op, inputs, attrs)[0]!;
  }

  /** Renames a computed value into a graph output (Identity keeps names stable). */
  bind(value: string, outputName: string): void {
    this.nodes.push({
      name: `${outputName}_identity`,
      opType: 'Identity',
      input: [value],
      output: [outputName],
    });
  }

  encode(metadata: Record<string, string>): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'lightrank-modelkit',
      producerVersion: '1',
      opsetImport: [{ domain: '', version: OPSET }],
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.inits,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
