// The oracle for PVM-in-PVM: runs the anan-as interpreter (compiler.wasm of
// @fluffylabs/anan-as 1.2.0) natively in node's WebAssembly engine with the nested input
// and prints its output in hex. `abort` throws and `console.log` only counts, as the
// compiled program treats them.
//
// Input (stdin): JSON array of nested inputs in hex. Output: JSON array of output hex
// (or {"error": ...}).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const wasm = readFileSync(path.join(here, "../../vendor/node_modules/@fluffylabs/anan-as/dist/build/compiler.wasm"));
const module = new WebAssembly.Module(wasm);
const ARRAY_BUFFER_ID = 1;

function run(inputHex) {
  let logs = 0;
  const imports = {
    env: {
      abort: () => {
        throw new Error("abort");
      },
      "console.log": () => {
        logs += 1;
      },
    },
  };
  const instance = new WebAssembly.Instance(module, imports);
  const e = instance.exports;
  const input = Buffer.from(inputHex, "hex");
  const ptr = e.__pin(e.__new(input.length, ARRAY_BUFFER_ID));
  new Uint8Array(e.memory.buffer, ptr, input.length).set(input);
  e.main(ptr, input.length);
  const start = e.result_ptr.value >>> 0;
  const length = e.result_len.value >>> 0;
  return Buffer.from(new Uint8Array(e.memory.buffer, start, length)).toString("hex");
}

const inputs = JSON.parse(readFileSync(0, "utf8"));
const out = inputs.map((input) => {
  try {
    return run(input);
  } catch (err) {
    return { error: String(err && err.message ? err.message : err) };
  }
});
process.stdout.write(JSON.stringify(out));
