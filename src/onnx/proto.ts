/**
 * A minimal protobuf writer, enough to serialise ONNX ModelProto (onnx.proto, proto2). Messages are
 * built bottom-up as lists of byte chunks so that large raw tensors are never copied until the final
 * concatenation.
 */
export class ProtoMessage {
  readonly chunks: Uint8Array[] = [];
  length = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  private tag(field: number, wireType: number): void {
    this.push(encodeVarint(BigInt((field << 3) | wireType)));
  }

  /** int32/int64/enum/bool (wire type 0). Negative values use ten-byte two's complement, as protobuf does. */
  varint(field: number, value: number | bigint | boolean): this {
    const v = typeof value === "boolean" ? (value ? 1n : 0n) : BigInt(value);
    this.tag(field, 0);
    this.push(encodeVarint(v < 0n ? v + (1n << 64n) : v));
    return this;
  }

  /** float (wire type 5). */
  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.push(encodeVarint(BigInt(value.length)));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, child: ProtoMessage): this {
    this.tag(field, 2);
    this.push(encodeVarint(BigInt(child.length)));
    for (const c of child.chunks) this.push(c);
    return this;
  }

  /** One contiguous buffer (the only copy of large payloads). */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}

export function encodeVarint(value: bigint): Uint8Array {
  if (value < 0n) throw new Error("encodeVarint: negative value");
  const bytes: number[] = [];
  let v = value;
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (v > 0n);
  return Uint8Array.from(bytes);
}
