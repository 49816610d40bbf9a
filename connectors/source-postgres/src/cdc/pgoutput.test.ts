import { describe, expect, it } from 'vitest';
import {
  decodePgOutput,
  decodeReplicationMessage,
  formatLsn,
  parseLsn,
  pgTimeToIso,
  standbyStatus,
} from './pgoutput';

/** Builds protocol bytes: numbers of a given width, C strings, raw buffers. */
class W {
  parts: Buffer[] = [];
  u8(v: number) {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  ch(c: string) {
    return this.u8(c.charCodeAt(0));
  }
  i16(v: number) {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.parts.push(b);
    return this;
  }
  i32(v: number) {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }
  u64(v: bigint) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    this.parts.push(b);
    return this;
  }
  str(s: string) {
    this.parts.push(Buffer.from(s, 'utf8'), Buffer.from([0]));
    return this;
  }
  text(s: string) {
    const b = Buffer.from(s, 'utf8');
    return this.ch('t').i32(b.length).raw(b);
  }
  raw(b: Buffer) {
    this.parts.push(b);
    return this;
  }
  get buf() {
    return Buffer.concat(this.parts);
  }
}

describe('pgoutput decoding', () => {
  it('Begin and Commit', () => {
    expect(decodePgOutput(new W().ch('B').u64(0x16b374d848n).u64(1000n).i32(77).buf)).toEqual({
      tag: 'begin',
      finalLsn: 0x16b374d848n,
      commitTime: 1000n,
      xid: 77,
    });
    expect(decodePgOutput(new W().ch('C').u8(0).u64(10n).u64(20n).u64(30n).buf)).toEqual({
      tag: 'commit',
      flags: 0,
      commitLsn: 10n,
      endLsn: 20n,
      commitTime: 30n,
    });
  });

  it('Relation, with quoted and unicode names', () => {
    const buf = new W()
      .ch('R')
      .i32(16384)
      .str('my schema')
      .str('Größe "t"')
      .ch('d')
      .i16(2)
      .u8(1)
      .str('id')
      .i32(23)
      .i32(-1)
      .u8(0)
      .str('select')
      .i32(25)
      .i32(-1).buf;
    expect(decodePgOutput(buf)).toEqual({
      tag: 'relation',
      relid: 16384,
      namespace: 'my schema',
      name: 'Größe "t"',
      replicaIdentity: 'd',
      columns: [
        { flags: 1, name: 'id', typeOid: 23, typmod: -1 },
        { flags: 0, name: 'select', typeOid: 25, typmod: -1 },
      ],
    });
  });

  it('Insert, Update (with and without old tuple), Delete, Truncate', () => {
    const insert = new W().ch('I').i32(5).ch('N').i16(3).text('1').ch('n').text('é').buf;
    expect(decodePgOutput(insert)).toEqual({ tag: 'insert', relid: 5, newTuple: ['1', null, 'é'] });

    const update = new W().ch('U').i32(5).ch('N').i16(2).text('1').ch('u').buf;
    expect(decodePgOutput(update)).toEqual({
      tag: 'update',
      relid: 5,
      oldKind: undefined,
      oldTuple: undefined,
      newTuple: ['1', undefined],
    });
    const updateKey = new W()
      .ch('U')
      .i32(5)
      .ch('K')
      .i16(2)
      .text('1')
      .ch('n')
      .ch('N')
      .i16(2)
      .text('2')
      .text('x').buf;
    expect(decodePgOutput(updateKey)).toMatchObject({
      oldKind: 'K',
      oldTuple: ['1', null],
      newTuple: ['2', 'x'],
    });

    const del = new W().ch('D').i32(5).ch('O').i16(2).text('1').text('x').buf;
    expect(decodePgOutput(del)).toEqual({ tag: 'delete', relid: 5, oldKind: 'O', oldTuple: ['1', 'x'] });

    const trunc = new W().ch('T').i32(2).u8(1).i32(5).i32(6).buf;
    expect(decodePgOutput(trunc)).toEqual({ tag: 'truncate', options: 1, relids: [5, 6] });
  });

  it('rejects what it does not know', () => {
    expect(() => decodePgOutput(new W().ch('Z').buf)).toThrow(/unknown message type "Z"/);
    expect(() => decodePgOutput(new W().ch('I').i32(5).ch('N').i16(1).ch('b').i32(1).u8(0).buf)).toThrow(
      /binary/,
    );
    expect(() => decodePgOutput(new W().ch('I').i32(5).ch('N').i16(1).ch('t').i32(10).u8(0).buf)).toThrow(
      /truncated/,
    );
  });
});

describe('replication stream framing', () => {
  it('XLogData and keepalive', () => {
    const payload = Buffer.from('B...');
    const x = decodeReplicationMessage(new W().ch('w').u64(100n).u64(200n).u64(300n).raw(payload).buf);
    expect(x).toEqual({ type: 'xlog', walStart: 100n, walEnd: 200n, sendTime: 300n, payload });
    expect(decodeReplicationMessage(new W().ch('k').u64(500n).u64(1n).u8(1).buf)).toEqual({
      type: 'keepalive',
      walEnd: 500n,
      sendTime: 1n,
      replyRequested: true,
    });
  });

  it('standby status update', () => {
    const b = standbyStatus(10n, 9n, 8n);
    expect(b.length).toBe(34);
    expect(String.fromCharCode(b[0]!)).toBe('r');
    expect(b.readBigUInt64BE(1)).toBe(10n);
    expect(b.readBigUInt64BE(9)).toBe(9n);
    expect(b.readBigUInt64BE(17)).toBe(8n);
    expect(b[33]).toBe(0);
  });

  it('LSNs and timestamps', () => {
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
    expect(formatLsn(0x16b374d848n)).toBe('16/B374D848');
    expect(formatLsn(parseLsn('0/0'))).toBe('0/0');
    expect(() => parseLsn('nope')).toThrow(/not an LSN/);
    expect(pgTimeToIso(0n)).toBe('2000-01-01T00:00:00.000000Z');
    expect(pgTimeToIso(1_500_001n)).toBe('2000-01-01T00:00:01.500001Z');
    expect(pgTimeToIso(-1n)).toBe('1999-12-31T23:59:59.999999Z');
  });
});
