// Runs a batch of PVM programs on the reference implementation (@fluffylabs/anan-as
// 1.2.0), exactly as its CLI `run` command does (including its handling of host call
// 100, JIP-1 log), and prints one JSON result per program.
//
// Input (stdin): JSON array of {program: hex, args: hex, gas: decimal string,
// form: "jam" | "spi" | "blob", pc?: number}.
// Output (stdout): JSON array of {status, exitCode, pc, gas, registers, result}.
//
// The 1.2.0 release keeps a fault flag set after a failed sbrk, so later programs in the
// same instance would fail their sbrk too: after any PANIC the module is loaded afresh.
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const release = pathToFileURL(path.join(here, "../../vendor/node_modules/@fluffylabs/anan-as/dist/build/release.js")).href;
const LOG_INDEX = 100;
const LOG_GAS = 10n;
const WHAT = 0xfffffffffffffffen;
const HOST = 3;
const PANIC = 1;

// The reference logs warnings ("Run out of pages!") with console.log: keep stdout JSON.
console.log = (...args) => console.error(...args);

let generation = 0;
async function load() {
  generation += 1;
  return import(`${release}?instance=${generation}`);
}

function hex(bytes) {
  return Buffer.from(bytes ?? []).toString("hex");
}

const jobs = JSON.parse(readFileSync(0, "utf8"));
let lib = await load();
const out = [];
for (const job of jobs) {
  const program = Array.from(Buffer.from(job.program, "hex"));
  const args = Array.from(Buffer.from(job.args ?? "", "hex"));
  const kind = job.form === "blob" ? lib.InputKind.Generic : lib.InputKind.SPI;
  const hasMetadata = job.form === "jam" ? lib.HasMetadata.Yes : lib.HasMetadata.No;
  let result;
  try {
    const prepared = lib.prepareProgram(kind, hasMetadata, program, [], [], [], args, 128);
    const id = lib.pvmStart(prepared, false);
    let gas = BigInt(job.gas);
    let pc = job.pc ?? 0;
    for (;;) {
      const pause = lib.pvmResume(id, gas, pc, false);
      if (!pause) throw new Error("pvmResume returned null");
      if (pause.status === HOST && pause.exitCode === LOG_INDEX) {
        const regs = pause.registers;
        regs[7] = WHAT;
        lib.pvmSetRegisters(id, regs);
        gas = pause.gas >= LOG_GAS ? pause.gas - LOG_GAS : 0n;
        pc = pause.nextPc;
      } else {
        break;
      }
    }
    const r = lib.pvmDestroy(id);
    result = {
      status: r.status,
      exitCode: r.exitCode,
      pc: r.pc,
      gas: String(r.gas),
      registers: Array.from(r.registers, (x) => String(x)),
      result: hex(r.result),
    };
  } catch (e) {
    result = { error: String(e && e.message ? e.message : e) };
  }
  out.push(result);
  if (result.status === PANIC || result.error) {
    lib = await load();
  }
}
process.stdout.write(JSON.stringify(out));
