// A minimal PNG writer for generated test inputs (8-bit grey or RGB, no
// filtering): enough to make extreme shapes that cost a few hundred bytes.
import { deflateSync, crc32 } from 'node:zlib';

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)) >>> 0, 8 + data.length);
  return out;
}

const COLOUR_TYPE = { 1: 0, 2: 4, 3: 2, 4: 6 };

/** A width x height PNG, grey (channels 1), grey+alpha (2), RGB (3) or RGBA (4), every sample `value`. */
export function png(width, height, { channels = 1, value = 128 } = {}) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = COLOUR_TYPE[channels];
  const row = Buffer.alloc(1 + width * channels, value);
  row[0] = 0; // filter: none
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A PNG whose header says width x height but whose data is one empty row: a decompression-bomb header. */
export function pngHeaderOnly(width, height) {
  const small = png(1, 1);
  const out = Buffer.from(small);
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)) >>> 0, 29);
  return out;
}
