// Fallback entry when workerd refuses to start with relaxed.wasm as a module:
// times simd128 alone and still reports WebAssembly.validate on the relaxed bytes.
import simd128 from "simd128.wasm";
import simd128Bytes from "simd128.bin";
import relaxedBytes from "relaxed.bin";
import { handler } from "check.mjs";
export default handler({ simd128 }, { simd128: simd128Bytes, relaxed: relaxedBytes });
