/**
 * Decoder for the streaming replication protocol's CopyData messages and the pgoutput logical
 * decoding plugin's messages (protocol version 1), as documented in the Postgres manual
 * ("Streaming Replication Protocol", "Logical Replication Message Formats").
 */

/** A value in a tuple: text, null, or undefined for an unchanged TOASTed value not sent. */
export type TupleValue = string | null | undefined;

export interface RelationColumn {
  /** 1 when the column is part of the replica identity key. */
  flags: number;
  name: string;
  typeOid: number;
  typmod: number;
}

export type PgOutputMessage =
  | { tag: 'begin'; finalLsn: bigint; commitTime: bigint; xid: number }
  | { tag: 'commit'; flags: number; commitLsn: bigint; endLsn: bigint; commitTime: bigint }
  | { tag: 'origin'; lsn: bigint; name: string }
  | {
      tag: 'relation';
      relid: number;
      namespace: string;
      name: string;
      replicaIdentity: string;
      columns: RelationColumn[];
    }
  | { tag: 'type'; typeOid: number; namespace: string; name: string }
  | { tag: 'insert'; relid: number; newTuple: TupleValue[] }
  | {
      tag: 'update';
      relid: number;
      /** K: the old key (replica identity index), O: the whole old row (REPLICA IDENTITY FULL). */
      oldKind: 'K' | 'O' | undefined;
      oldTuple: TupleValue[] | undefined;
      newTuple: TupleValue[];
    }
  | { tag: 'delete'; relid: number; oldKind: 'K' | 'O'; oldTuple: TupleValue[] }
  | { tag: 'truncate'; options: number; relids: number[] }
  | { tag: 'message'; flags: number; lsn: bigint; prefix: string; content: Buffer };

/** What the server sends inside the CopyBoth stream. */
export type ReplicationMessage =
  | { type: 'xlog'; walStart: bigint; walEnd: bigint; sendTime: bigint; payload: Buffer }
  | { type: 'keepalive'; walEnd: bigint; sendTime: bigint; replyRequested: boolean };

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  u8(): number {
    return this.buf.readUInt8(this.pos++);
  }
  i16(): number {
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  i32(): number {
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  u32(): number {
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  i64(): bigint {
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  /** A NUL-terminated UTF-8 string. */
  cstring(): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) throw new Error('pgoutput: unterminated string');
    const s = this.buf.toString('utf8', this.pos, end);
    this.pos = end + 1;
    return s;
  }
  bytes(n: number): Buffer {
    const b = this.buf.subarray(this.pos, this.pos + n);
    if (b.length !== n) throw new Error('pgoutput: message truncated');
    this.pos += n;
    return b;
  }
  tuple(): TupleValue[] {
    const n = this.i16();
    const values: TupleValue[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const kind = this.u8();
      switch (kind) {
        case 0x6e /* n */:
          values[i] = null;
          break;
        case 0x75 /* u */:
          values[i] = undefined;
          break;
        case 0x74 /* t */:
          {
            const len = this.i32();
            values[i] = this.bytes(len).toString('utf8');
            break;
          }
        case 0x62 /* b */:
          {
            // Binary values only come when the client asks for them (proto 2+ "binary"); we never do.
            const len = this.i32();
            this.bytes(len);
            throw new Error('pgoutput: binary tuple values are not supported');
          }
        default:
          throw new Error(`pgoutput: unknown tuple value kind 0x${kind.toString(16)}`);
      }
    }
    return values;
  }
}

/** Decodes a CopyData payload of the replication stream. */
export function decodeReplicationMessage(buf: Buffer): ReplicationMessage {
  const r = new Reader(buf);
  const tag = r.u8();
  if (tag === 0x77 /* w */) {
    const walStart = r.u64();
    const walEnd = r.u64();
    const sendTime = r.i64();
    return { type: 'xlog', walStart, walEnd, sendTime, payload: buf.subarray(r.pos) };
  }
  if (tag === 0x6b /* k */) {
    const walEnd = r.u64();
    const sendTime = r.i64();
    return { type: 'keepalive', walEnd, sendTime, replyRequested: r.u8() === 1 };
  }
  throw new Error(`replication stream: unexpected message 0x${tag.toString(16)}`);
}

/** Decodes one pgoutput message (the payload of an XLogData message). */
export function decodePgOutput(buf: Buffer): PgOutputMessage {
  const r = new Reader(buf);
  const tag = String.fromCharCode(r.u8());
  switch (tag) {
    case 'B':
      return { tag: 'begin', finalLsn: r.u64(), commitTime: r.i64(), xid: r.u32() };
    case 'C':
      return { tag: 'commit', flags: r.u8(), commitLsn: r.u64(), endLsn: r.u64(), commitTime: r.i64() };
    case 'O':
      return { tag: 'origin', lsn: r.u64(), name: r.cstring() };
    case 'R': {
      const relid = r.u32();
      const namespace = r.cstring();
      const name = r.cstring();
      const replicaIdentity = String.fromCharCode(r.u8());
      const n = r.i16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < n; i++) {
        columns.push({ flags: r.u8(), name: r.cstring(), typeOid: r.u32(), typmod: r.i32() });
      }
      return { tag: 'relation', relid, namespace, name, replicaIdentity, columns };
    }
    case 'Y':
      return { tag: 'type', typeOid: r.u32(), namespace: r.cstring(), name: r.cstring() };
    case 'I': {
      const relid = r.u32();
      const marker = r.u8();
      if (marker !== 0x4e /* N */) throw new Error('pgoutput: insert without a new tuple');
      return { tag: 'insert', relid, newTuple: r.tuple() };
    }
    case 'U': {
      const relid = r.u32();
      let marker = r.u8();
      let oldKind: 'K' | 'O' | undefined;
      let oldTuple: TupleValue[] | undefined;
      if (marker === 0x4b /* K */ || marker === 0x4f /* O */) {
        oldKind = marker === 0x4b ? 'K' : 'O';
        oldTuple = r.tuple();
        marker = r.u8();
      }
      if (marker !== 0x4e) throw new Error('pgoutput: update without a new tuple');
      return { tag: 'update', relid, oldKind, oldTuple, newTuple: r.tuple() };
    }
    case 'D': {
      const relid = r.u32();
      const marker = r.u8();
      if (marker !== 0x4b && marker !== 0x4f) throw new Error('pgoutput: delete without an old tuple');
      return { tag: 'delete', relid, oldKind: marker === 0x4b ? 'K' : 'O', oldTuple: r.tuple() };
    }
    case 'T': {
      const n = r.i32();
      const options = r.u8();
      const relids: number[] = [];
      for (let i = 0; i < n; i++) relids.push(r.u32());
      return { tag: 'truncate', options, relids };
    }
    case 'M': {
      const flags = r.u8();
      const lsn = r.u64();
      const prefix = r.cstring();
      const len = r.i32();
      return { tag: 'message', flags, lsn, prefix, content: r.bytes(len) };
    }
    default:
      throw new Error(`pgoutput: unknown message type "${tag}"`);
  }
}

/** Microseconds between the Unix epoch and Postgres' epoch (2000-01-01 UTC). */
const PG_EPOCH_US = 946_684_800_000_000n;

/** A Postgres timestamp (µs since 2000-01-01 UTC) as `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
export function pgTimeToIso(us: bigint): string {
  const unixUs = us + PG_EPOCH_US;
  let ms = unixUs / 1000n;
  let micros = unixUs % 1000n;
  if (micros < 0n) {
    micros += 1000n;
    ms -= 1n;
  }
  const iso = new Date(Number(ms)).toISOString(); // …T01:02:03.456Z
  return `${iso.slice(0, -1)}${micros.toString().padStart(3, '0')}Z`;
}

/** The current time as a Postgres timestamp (for standby status updates). */
export function nowPgTime(): bigint {
  return BigInt(Date.now()) * 1000n - PG_EPOCH_US;
}

/** `16/B374D848` → bigint. */
export function parseLsn(text: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not an LSN (expected e.g. 16/B374D848)`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** A standby status update ('r'): positions written, flushed and applied, and the clock. */
export function standbyStatus(
  written: bigint,
  flushed: bigint,
  applied: bigint,
  replyRequested = false,
): Buffer {
  const b = Buffer.alloc(34);
  b.writeUInt8(0x72, 0);
  b.writeBigUInt64BE(written, 1);
  b.writeBigUInt64BE(flushed, 9);
  b.writeBigUInt64BE(applied, 17);
  b.writeBigInt64BE(nowPgTime(), 25);
  b.writeUInt8(replyRequested ? 1 : 0, 33);
  return b;
}
