// The few pieces of the protobuf binary format (proto3) that the tunnel's three small messages need.
// Why not @bufbuild/protobuf here: the agent's process is measured against an idle-memory goal, and
// the runtime plus the descriptors it boots cost an idle agent 1.9 MB of its 50 (bench/agent-rss; a
// process holding only them: 40.3 MB against 38.5 bare). Management still decodes ControlMessage with
// @bufbuild/protobuf; test/unit/tunnel/message-codecs.test.ts holds both to the same bytes.

export const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  Len = 2,
  StartGroup = 3,
  EndGroup = 4,
  Fixed32 = 5,
}

/** Appends fields in the order they are written (callers write them in field-number order, as protoc does). */
export class WireWriter {
  private readonly parts: Buffer[] = [];
  private size = 0;

  private push(b: Buffer): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }

  private varint(v: bigint): this {
    // Negative int64 values go out as their 64-bit two's complement: ten bytes.
    let n = BigInt.asUintN(64, v);
    const out: number[] = [];
    while (n > 0x7fn) {
      out.push(Number(n & 0x7fn) | 0x80);
      n >>= 7n;
    }
    out.push(Number(n));
    return this.push(Buffer.from(out));
  }

  private tag(field: number, type: WireType): this {
    return this.varint(BigInt((field << 3) | type));
  }

  /** proto3 implicit presence: the default value is not written (unless `always`: a map entry's key and value are). */
  string(field: number, v: string, always = false): this {
    if (v === "" && !always) return this;
    const b = Buffer.from(v, "utf8");
    return this.tag(field, WireType.Len).varint(BigInt(b.length)).push(b);
  }

  uint32(field: number, v: number): this {
    return v === 0 ? this : this.tag(field, WireType.Varint).varint(BigInt(v >>> 0));
  }

  bool(field: number, v: boolean): this {
    return v ? this.tag(field, WireType.Varint).varint(1n) : this;
  }

  int64(field: number, v: bigint): this {
    return v === 0n ? this : this.tag(field, WireType.Varint).varint(BigInt.asIntN(64, v));
  }

  uint64(field: number, v: bigint): this {
    return v === 0n ? this : this.tag(field, WireType.Varint).varint(BigInt.asUintN(64, v));
  }

  /** A nested message, written even when empty (a oneof case or a map entry has presence). */
  message(field: number, inner: WireWriter): this {
    const b = inner.finish();
    return this.tag(field, WireType.Len).varint(BigInt(b.length)).push(b);
  }

  finish(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}

/** Reads fields one by one; throws on anything cut off or malformed. */
export class WireReader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.buf.length) throw new Error("premature end of a varint");
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asUintN(64, result);
    }
    throw new Error("varint longer than 10 bytes");
  }

  /** The next field's number and wire type. */
  tag(): [field: number, type: number] {
    const t = this.varint();
    const field = Number(t >> 3n);
    const type = Number(t & 7n);
    if (field < 1 || field > 0x1fffffff) throw new Error(`illegal field number ${field}`);
    if (type > 5) throw new Error(`illegal wire type ${type}`);
    return [field, type];
  }

  bytes(): Uint8Array {
    const len = Number(this.varint());
    if (len > this.buf.length - this.pos) throw new Error("premature end of a length-delimited field");
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }

  string(): string {
    return Buffer.from(this.bytes()).toString("utf8");
  }

  uint32(): number {
    return Number(BigInt.asUintN(32, this.varint()));
  }

  bool(): boolean {
    return this.varint() !== 0n;
  }

  /** Skips a field of an unknown number (a group up to its matching end, as @bufbuild/protobuf does). */
  skip(type: number, field: number): void {
    switch (type) {
      case WireType.Varint:
        this.varint();
        return;
      case WireType.Fixed64:
        this.advance(8);
        return;
      case WireType.Len:
        this.bytes();
        return;
      case WireType.Fixed32:
        this.advance(4);
        return;
      case WireType.StartGroup:
        for (;;) {
          const [f, t] = this.tag();
          if (t === WireType.EndGroup) {
            if (f !== field) throw new Error(`group ${field} ended by ${f}`);
            return;
          }
          this.skip(t, f);
        }
      default:
        throw new Error(`unexpected wire type ${type}`);
    }
  }

  private advance(n: number): void {
    if (n > this.buf.length - this.pos) throw new Error("premature end of a fixed-width field");
    this.pos += n;
  }
}

