// Entry with both builds: workerd compiled relaxed.wasm at startup, so it accepts relaxed SIMD.
import simd128 from "simd128.wasm";
import relaxed from "relaxed.wasm";
import simd128Bytes from "simd128.bin";
import relaxedBytes from "relaxed.bin";
import { handler } from "check.mjs";
export default handler({ simd128, relaxed }, { simd128: simd128Bytes, relaxed: relaxedBytes });
