// JPEGs that are cheap to send and were costly to decode: written byte by
// byte (the layout of model/jpeg_writer.py), for the Worker's tests, the soak
// and the CPU-budget benchmark. Grey, one Huffman code per table (DC
// difference 0, AC end-of-block), so whatever scan data there is decodes to
// flat blocks, as does none at all.

const marker = (code, payload) => {
  const len = payload.length + 2;
  return Buffer.from([0xff, code, len >> 8, len & 0xff, ...payload]);
};
const oneCodeTable = (classAndId) => [classAndId, 1, ...new Array(15).fill(0), 0];

function head(sof, width, height) {
  return [
    Buffer.from([0xff, 0xd8]),
    marker(0xdb, [0, ...new Array(64).fill(1)]),
    marker(sof, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 1, 1, 0x11, 0]),
    marker(0xc4, oneCodeTable(0x00)),
    marker(0xc4, oneCodeTable(0x10)),
  ];
}

const scan = (ss, se) => marker(0xda, [1, 1, 0x00, ss, se, 0]);
const EOI = Buffer.from([0xff, 0xd9]);

/** A baseline JPEG whose header claims `width` x `height` and whose scan is
 * empty: it decodes (as PIL does) to a flat grey image of that size. */
export function headerOnlyJpeg(width = 6000, height = 6600) {
  return Buffer.concat([...head(0xc0, width, height), scan(0, 63), EOI]);
}

/** A progressive JPEG with a DC scan and then `scans - 1` empty AC scans
 * (10 bytes each). */
export function emptyScansJpeg(scans, width = 1024, height = 1024) {
  const parts = head(0xc2, width, height);
  parts.push(scan(0, 0));
  const ac = scan(1, 63);
  for (let i = 1; i < scans; i++) parts.push(ac);
  parts.push(EOI);
  return Buffer.concat(parts);
}
