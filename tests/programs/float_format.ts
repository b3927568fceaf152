// float_format: Math and number formatting in AssemblyScript. Argument: n (u32). For
// k = 1..n it sums sin, cos, exp, log, pow, sqrt, cbrt, atan2, hypot and rounding of
// values derived from k in f64 (and a few in f32), then formats the sums with
// toString() and returns the text's UTF-8 bytes.
export function main(argsPtr: u32, argsLen: u32): i64 {
  const n = load<u32>(argsPtr);
  let wave = 0.0;
  let growth = 0.0;
  let roots = 0.0;
  let rounded = 0.0;
  let narrow: f32 = 0;
  for (let k: u32 = 1; k <= n; k++) {
    const x = <f64>k / 7.0;
    wave += Math.sin(x) * Math.cos(x / 3.0) + Math.atan2(x, 2.5);
    growth += Math.exp(-x) + Math.log(x + 1.0) + Math.pow(1.0 + x, 0.75);
    roots += Math.sqrt(x) + Math.cbrt(x) + Math.hypot(x, 1.5);
    rounded += Math.floor(x * 10.0) + Math.ceil(x) - Math.round(x * 3.3) + Math.trunc(-x);
    narrow += Mathf.sqrt(<f32>x) * Mathf.sin(<f32>k);
  }
  const text =
    wave.toString() + " " + growth.toString() + " " + roots.toString() + " " +
    rounded.toString() + " " + narrow.toString() + " " + (1.0 / 3.0).toString() + " " +
    (<f64>n * 1e21).toString() + " " + (-0.0).toString() + " " + (5e-324).toString();
  const bytes = String.UTF8.encode(text);
  return i64(changetype<usize>(bytes)) | (i64(bytes.byteLength) << 32);
}
