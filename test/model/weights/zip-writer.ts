import { crc32, deflateRawSync } from "node:zlib";

/**
 * A minimal zip writer for tests, so that mutated or hostile entries can sit inside an otherwise valid
 * archive. With `zip64`, every size and offset goes through the zip64 records, as in checkpoints
 * larger than 4 GiB.
 */
export interface ZipInput {
  name: string;
  data: Uint8Array;
  /** Deflate the data (method 8) instead of storing it. */
  deflate?: boolean;
  /** The uncompressed size to declare, when it should lie; default the data's length. */
  declaredSize?: number;
}

export function writeZip(inputs: readonly ZipInput[], zip64 = false): Uint8Array {
  const FULL = 0xffffffff;
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const input of inputs) {
    const nameBytes = Buffer.from(input.name);
    const stored = input.deflate ? deflateRawSync(input.data) : input.data;
    const size = input.declaredSize ?? input.data.length;
    const method = input.deflate ? 8 : 0;
    const crc = crc32(input.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(zip64 ? 45 : 20, 4);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(zip64 ? FULL : stored.length, 18);
    local.writeUInt32LE(zip64 ? FULL : size, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const localExtra = Buffer.alloc(zip64 ? 20 : 0);
    if (zip64) {
      localExtra.writeUInt16LE(0x0001, 0);
      localExtra.writeUInt16LE(16, 2);
      localExtra.writeBigUInt64LE(BigInt(size), 4);
      localExtra.writeBigUInt64LE(BigInt(stored.length), 12);
    }
    local.writeUInt16LE(localExtra.length, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(zip64 ? 45 : 20, 4);
    central.writeUInt16LE(zip64 ? 45 : 20, 6);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(zip64 ? FULL : stored.length, 20);
    central.writeUInt32LE(zip64 ? FULL : size, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(zip64 ? FULL : offset, 42);
    const centralExtra = Buffer.alloc(zip64 ? 28 : 0);
    if (zip64) {
      centralExtra.writeUInt16LE(0x0001, 0);
      centralExtra.writeUInt16LE(24, 2);
      centralExtra.writeBigUInt64LE(BigInt(size), 4);
      centralExtra.writeBigUInt64LE(BigInt(stored.length), 12);
      centralExtra.writeBigUInt64LE(BigInt(offset), 20);
    }
    central.writeUInt16LE(centralExtra.length, 30);
    locals.push(local, nameBytes, localExtra, Buffer.from(stored));
    centrals.push(central, nameBytes, centralExtra);
    offset += 30 + nameBytes.length + localExtra.length + stored.length;
  }
  const dir = Buffer.concat(centrals);
  const tail: Buffer[] = [];
  if (zip64) {
    const record = Buffer.alloc(56);
    record.writeUInt32LE(0x06064b50, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeUInt16LE(45, 12);
    record.writeUInt16LE(45, 14);
    record.writeBigUInt64LE(BigInt(inputs.length), 24);
    record.writeBigUInt64LE(BigInt(inputs.length), 32);
    record.writeBigUInt64LE(BigInt(dir.length), 40);
    record.writeBigUInt64LE(BigInt(offset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(offset + dir.length), 8);
    locator.writeUInt32LE(1, 16);
    tail.push(record, locator);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(zip64 ? 0xffff : inputs.length, 8);
  end.writeUInt16LE(zip64 ? 0xffff : inputs.length, 10);
  end.writeUInt32LE(zip64 ? FULL : dir.length, 12);
  end.writeUInt32LE(zip64 ? FULL : offset, 16);
  return Buffer.concat([...locals, dir, ...tail, end]);
}

/** Stored entries given as [name, data] pairs. */
export function storedZip(entries: readonly [string, Uint8Array][], zip64 = false): Uint8Array {
  return writeZip(
    entries.map(([name, data]) => ({ name, data })),
    zip64,
  );
}
