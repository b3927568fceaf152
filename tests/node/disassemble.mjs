// Disassembles bare program blobs with the reference implementation's `disassemble`
// (@fluffylabs/anan-as 1.2.0), as its CLI `disassemble --no-metadata` does.
// Input (stdin): JSON array of program hex strings. Output: JSON array of listings.
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const lib = await import(pathToFileURL(path.join(here, "../../vendor/node_modules/@fluffylabs/anan-as/dist/build/release.js")).href);
const programs = JSON.parse(readFileSync(0, "utf8"));
const out = programs.map((hex) => lib.disassemble(Array.from(Buffer.from(hex, "hex")), lib.InputKind.Generic, lib.HasMetadata.No));
process.stdout.write(JSON.stringify(out));
