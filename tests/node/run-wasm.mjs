// Runs WebAssembly programs of the bench ABI in node's engine: `main(args_ptr, args_len)`
// returns the result's address (low 32 bits) and length (high 32 bits). The arguments go
// into one page grown at the top of the exported memory; `env.abort` throws.
//
// Input (stdin): JSON array of {wasm: hex, args: hex}.
// Output (stdout): JSON array of {result: hex} or {trap: message}.
import { readFileSync } from "node:fs";

const jobs = JSON.parse(readFileSync(0, "utf8"));
const out = [];
for (const job of jobs) {
  try {
    const imports = { env: { abort: () => { throw new Error("abort"); } } };
    const { instance } = await WebAssembly.instantiate(Buffer.from(job.wasm, "hex"), imports);
    const memory = instance.exports.memory;
    const args = Buffer.from(job.args, "hex");
    const argsPtr = memory.grow(1) * 65536;
    new Uint8Array(memory.buffer).set(args, argsPtr);
    const packed = BigInt.asUintN(64, instance.exports.main(argsPtr, args.length));
    const address = Number(packed & 0xffffffffn);
    const length = Number(packed >> 32n);
    out.push({ result: Buffer.from(new Uint8Array(memory.buffer, address, length)).toString("hex") });
  } catch (e) {
    out.push({ trap: String(e.message ?? e) });
  }
}
process.stdout.write(JSON.stringify(out));
