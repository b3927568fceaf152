// A JAM service in AssemblyScript (docs/abi.md, README "Writing a JAM service").
// refine returns a digest of its arguments (64-bit FNV-1a, little-endian); accumulate
// counts its calls in storage under the key "count" through read and write, and logs.

@external("jam", "read")
declare function read(service: i64, key: usize, keyLen: usize, out: usize, offset: i64, length: i64): i64;
@external("jam", "write")
declare function write(key: usize, keyLen: usize, value: usize, valueLen: usize): i64;
@external("jam", "log")
declare function log(level: i64, target: usize, targetLen: usize, message: usize, messageLen: usize): i64;

const NONE: i64 = -1;
const KEY = memory.data<u8>([0x63, 0x6f, 0x75, 0x6e, 0x74]); // "count"
const TARGET = memory.data<u8>([0x63, 0x6f, 0x75, 0x6e, 0x74, 0x65, 0x72]); // "counter"
const MESSAGE = memory.data<u8>([0x63, 0x61, 0x6c, 0x6c, 0x65, 0x64]); // "called"
const RESULT = memory.data(8);

function packed(address: usize, length: usize): u64 {
  return u64(address) | (u64(length) << 32);
}

export function refine(argsPtr: usize, argsLen: usize): u64 {
  let hash: u64 = 0xcbf29ce484222325;
  for (let i: usize = 0; i < argsLen; i++) {
    hash = (hash ^ u64(load<u8>(argsPtr + i))) * 0x100000001b3;
  }
  store<u64>(RESULT, hash);
  return packed(RESULT, 8);
}

export function accumulate(argsPtr: usize, argsLen: usize): u64 {
  store<u32>(RESULT, 0);
  const found = read(NONE, KEY, 5, RESULT, 0, 4);
  const count: u32 = (found == NONE ? 0 : load<u32>(RESULT)) + 1;
  store<u32>(RESULT, count);
  write(KEY, 5, RESULT, 4);
  log(3, TARGET, 7, MESSAGE, 6);
  return packed(RESULT, 4);
}
