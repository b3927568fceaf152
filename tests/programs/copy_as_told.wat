;; main(args_ptr, args_len) copies with memory.copy as its arguments say: the destination,
;; the source, the length, and whether the source is an offset from args_ptr (a
;; little-endian u32 each); then returns the 64 bytes at 0x100 (a pattern from a data
;; segment, with what the copy wrote). Its source may be an argument address, so it is a
;; copy that may read the arguments (lib/compiler/src/wasm/arguments.rs). Used by
;; tests/memory_bounds.rs and tests/pvm_in_pvm.rs.
(module (memory (export "memory") 1)
  (data (i32.const 0x100) "\00\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10\11\12\13\14\15\16\17\18\19\1a\1b\1c\1d\1e\1f\20\21\22\23\24\25\26\27\28\29\2a\2b\2c\2d\2e\2f\30\31\32\33\34\35\36\37\38\39\3a\3b\3c\3d\3e\3f")
  (func (export "main") (param $ptr i32) (param $len i32) (result i64)
    (local $src i32)
    (local.set $src (i32.load offset=4 (local.get $ptr)))
    (if (i32.load offset=12 (local.get $ptr))
      (then (local.set $src (i32.add (local.get $src) (local.get $ptr)))))
    (memory.copy (i32.load (local.get $ptr)) (local.get $src) (i32.load offset=8 (local.get $ptr)))
    (i64.const 0x4000000100)))
