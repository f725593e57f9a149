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

/**
 * Appends fields in the order they are written (callers write them in field-number order, as protoc
 * does) into one growing buffer. Tags, lengths and 32-bit values take a number path: OpenStream and
 * OpenResult are written once per request through an agent.
 */
export class WireWriter {
  private buf = Buffer.allocUnsafe(64);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** An unsigned varint of at most 32 bits. */
  private varint32(v: number): this {
    this.ensure(5);
    while (v > 0x7f) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
    return this;
  }

  /** A 64-bit varint; a negative int64 goes out as its two's complement: ten bytes. */
  private varint64(v: bigint): this {
    let n = BigInt.asUintN(64, v);
    this.ensure(10);
    while (n > 0x7fn) {
      this.buf[this.pos++] = Number(n & 0x7fn) | 0x80;
      n >>= 7n;
    }
    this.buf[this.pos++] = Number(n);
    return this;
  }

  private tag(field: number, type: WireType): this {
    return this.varint32(((field << 3) | type) >>> 0);
  }

  private lengthDelimited(bytes: Uint8Array): this {
    this.varint32(bytes.length).ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  /** proto3 implicit presence: the default value is not written (unless `always`: a map entry's key and value are). */
  string(field: number, v: string, always = false): this {
    if (v === "" && !always) return this;
    const len = Buffer.byteLength(v, "utf8");
    this.tag(field, WireType.Len).varint32(len).ensure(len);
    this.pos += this.buf.write(v, this.pos, "utf8");
    return this;
  }

  uint32(field: number, v: number): this {
    return v === 0 ? this : this.tag(field, WireType.Varint).varint32(v >>> 0);
  }

  bool(field: number, v: boolean): this {
    return v ? this.tag(field, WireType.Varint).varint32(1) : this;
  }

  int64(field: number, v: bigint): this {
    return v === 0n ? this : this.tag(field, WireType.Varint).varint64(v);
  }

  uint64(field: number, v: bigint): this {
    return v === 0n ? this : this.tag(field, WireType.Varint).varint64(v);
  }

  /** A nested message, written even when empty (a oneof case or a map entry has presence). */
  message(field: number, inner: WireWriter): this {
    return this.tag(field, WireType.Len).lengthDelimited(inner.finish());
  }

  /** The bytes written so far (a view of the writer's buffer). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Reads fields one by one; throws on anything cut off or malformed. Varints are read as
 * @bufbuild/protobuf reads them: tags, lengths and uint32 keep the low 32 bits of up to ten bytes,
 * bool is true when any bit is set.
 */
export class WireReader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  private byte(): number {
    if (this.pos >= this.buf.length) throw new Error("premature end of a varint");
    return this.buf[this.pos++]!;
  }

  /** A varint's low 32 bits, as an unsigned number. */
  private varint32(): number {
    let result = 0;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      if (i < 5) result |= (b & 0x7f) << (7 * i);
      if ((b & 0x80) === 0) return result >>> 0;
    }
    throw new Error("varint longer than 10 bytes");
  }

  /** The next field's number and wire type. */
  tag(): [field: number, type: number] {
    const start = this.pos;
    const t = this.varint32();
    const read = this.pos - start;
    if (read > 5 || (read === 5 && this.buf[this.pos - 1]! > 0x0f)) throw new Error("illegal tag: varint overflows uint32");
    const field = t >>> 3;
    const type = t & 7;
    if (field < 1) throw new Error(`illegal field number ${field}`);
    if (type > 5) throw new Error(`illegal wire type ${type}`);
    return [field, type];
  }

  bytes(): Uint8Array {
    const len = this.varint32();
    if (len > this.buf.length - this.pos) throw new Error("premature end of a length-delimited field");
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }

  /** proto3 strings must be valid UTF-8: anything else is refused, a leading BOM kept. */
  string(): string {
    return UTF8.decode(this.bytes());
  }

  uint32(): number {
    return this.varint32();
  }

  bool(): boolean {
    let any = 0;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      any |= b & 0x7f;
      if ((b & 0x80) === 0) return any !== 0;
    }
    throw new Error("varint longer than 10 bytes");
  }

  /** Skips a field of an unknown number (a group up to its matching end, nested at most 100 deep), as @bufbuild/protobuf does. */
  skip(type: number, field: number, depth = 0): void {
    switch (type) {
      case WireType.Varint:
        while (this.byte() & 0x80);
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
        if (depth >= 100) throw new Error("groups nested too deep");
        for (;;) {
          const [f, t] = this.tag();
          if (t === WireType.EndGroup) {
            if (f !== field) throw new Error(`group ${field} ended by ${f}`);
            return;
          }
          this.skip(t, f, depth + 1);
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
