//! `Semantics::GrayPaper` (`pvm-run --gp`) against the default reference semantics, on
//! every difference of pvm-spec §10: the same program under both, each outcome asserted
//! exactly, and the same outcome on every engine (the interpreter, the native engine,
//! `Auto`). docs/runner.md has a line for each.

mod support;

use assert_cmd::Command;
use pvm_isa::blob::build_blob;
use pvm_isa::spi::{build_spi, with_metadata};
use pvm_runner::{Engine, InputForm, Instance, Semantics, Status};

const GAS: i64 = 1000;

/// How a run ended: status, exit code, pc, gas left, registers, result.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    status: Status,
    exit_code: u64,
    pc: u32,
    gas: i64,
    regs: [u64; 13],
    result: Vec<u8>,
}

fn assemble(text: &str) -> Vec<u8> {
    pvm_asm::assemble(&pvm_asm::parse(text).unwrap()).unwrap().jam
}

/// Runs `jam` from `pc` with `gas` under `semantics` on every engine (which must agree).
fn run_at(jam: &[u8], semantics: Semantics, gas: i64, pc: u32) -> Outcome {
    let mut engines = support::engines();
    if pvm_runner::NATIVE_SUPPORTED {
        engines.push(Engine::Auto);
    }
    let outcomes: Vec<Outcome> = engines
        .iter()
        .map(|&engine| {
            let mut vm = Instance::load_under(jam, InputForm::Jam, &[], gas, semantics).unwrap();
            vm.set_engine(engine).unwrap();
            vm.set_pc(pc);
            let status = vm.run();
            let result = if status == Status::Halt { vm.result() } else { Vec::new() };
            Outcome {
                status,
                exit_code: vm.exit_code(status),
                pc: vm.pc(),
                gas: vm.state().gas(),
                regs: *vm.state().regs(),
                result,
            }
        })
        .collect();
    for (engine, outcome) in engines.iter().zip(&outcomes) {
        assert_eq!(outcome, &outcomes[0], "{engine:?} under {semantics:?}");
    }
    outcomes[0].clone()
}

fn run(jam: &[u8], semantics: Semantics) -> Outcome {
    run_at(jam, semantics, GAS, 0)
}

/// The SPI start registers with `changes` applied.
fn regs(changes: &[(usize, u64)]) -> [u64; 13] {
    let mut regs = pvm_isa::spi::SpiLayout::initial_registers(0);
    for &(r, v) in changes {
        regs[r] = v;
    }
    regs
}

#[test]
fn a_write_to_a_read_only_page_panics_or_faults_at_the_page() {
    let jam = assemble(".ro_data 01\nstore_imm_u8 0x10002, 5\njump_ind r0, 0\n");
    let base = Outcome { status: Status::Panic, exit_code: 0, pc: 0, gas: GAS - 1, regs: regs(&[]), result: vec![] };
    assert_eq!(run(&jam, Semantics::Reference), base);
    assert_eq!(run(&jam, Semantics::GrayPaper), Outcome { status: Status::Fault(0x10000), exit_code: 0x10000, ..base });
}

#[test]
fn out_of_gas_leaves_zero_or_the_negative_remainder() {
    let jam = assemble("load_imm r7, 1\nload_imm r7, 2\njump_ind r0, 0\n");
    let base = Outcome { status: Status::OutOfGas, exit_code: 0, pc: 3, gas: 0, regs: regs(&[(7, 1)]), result: vec![] };
    assert_eq!(run_at(&jam, Semantics::Reference, 1, 0), base);
    assert_eq!(run_at(&jam, Semantics::GrayPaper, 1, 0), Outcome { gas: -1, ..base });
}

#[test]
fn halt_and_panic_report_their_instruction_or_pc_zero() {
    let jam = assemble("load_imm r8, 0\njump_ind r0, 0\n");
    let halt = run(&jam, Semantics::Reference);
    assert_eq!((halt.status, halt.pc, halt.gas), (Status::Halt, 2, GAS - 2));
    assert_eq!(run(&jam, Semantics::GrayPaper), Outcome { pc: 0, ..halt });
    let jam = assemble("fallthrough\nfallthrough\ntrap\n");
    let panic = run(&jam, Semantics::Reference);
    assert_eq!((panic.status, panic.pc, panic.gas), (Status::Panic, 2, GAS - 3));
    assert_eq!(run(&jam, Semantics::GrayPaper), Outcome { pc: 0, ..panic });
    // A fault, a host call and out-of-gas report the instruction in both.
    let jam = assemble("fallthrough\necalli 7\n");
    assert_eq!(run(&jam, Semantics::GrayPaper).pc, 1);
    assert_eq!(run(&jam, Semantics::Reference).pc, 1);
}

#[test]
fn the_result_is_memory_r7_to_r8_or_r8_bytes_at_r7() {
    // "Hello" in rw data at 0x20000; r8 as the end address (the reference's convention,
    // which wasm2pvm emits) and as the length (the Gray Paper's).
    let hello = ".rw_data 48656c6c6f\nload_imm r7, 0x20000\nload_imm r8, R8\njump_ind r0, 0\n";
    let as_end = assemble(&hello.replace("R8", "0x20005"));
    assert_eq!(run(&as_end, Semantics::Reference).result, b"Hello");
    // 0x20005 bytes from 0x20000 run past the one rw page: unreadable, so empty.
    assert_eq!(run(&as_end, Semantics::GrayPaper).result, b"");
    let as_length = assemble(&hello.replace("R8", "5"));
    assert_eq!(run(&as_length, Semantics::Reference).result, b"");
    assert_eq!(run(&as_length, Semantics::GrayPaper).result, b"Hello");
    // The Gray Paper has no 1 MiB limit: 2 MiB of heap read whole.
    let big = assemble(".heap_pages 512\nload_imm r7, 0x20000\nload_imm r8, 0x200000\njump_ind r0, 0\n");
    assert_eq!(run(&big, Semantics::GrayPaper).result, vec![0; 0x20_0000]);
    let big_end = assemble(".heap_pages 512\nload_imm r7, 0x20000\nload_imm r8, 0x220000\njump_ind r0, 0\n");
    assert_eq!(run(&big_end, Semantics::Reference).result, b"");
}

/// Programs with the three non-canonical encodings of pvm-spec §10 rows 5–7: a skip of 25,
/// a three-register destination byte 0x17, a length field 9.
fn non_canonical_programs() -> [Vec<u8>; 3] {
    [
        // `fallthrough`, then 25 bytes that start no instruction, then a halt at 26.
        assemble(&format!("fallthrough\n.bytes {}\njump_ind r0, 0\n", "00".repeat(25))),
        // add_64 with destination byte 0x17, r1 = 5, r2 = 6.
        assemble("load_imm r1, 5\nload_imm r2, 6\n.insn c8 21 17\njump_ind r0, 0\n"),
        // store_imm_u8 with length field 9.
        assemble(".insn 1e 09 80 00 00 02\njump_ind r0, 0\n"),
    ]
}

#[test]
fn non_canonical_encodings_decode_by_the_reference_or_the_gray_paper() {
    let [skip, destination, length] = non_canonical_programs();
    // The reference caps the skip at 25 and reaches the halt at 26; the Gray Paper caps it
    // at 24, so the next instruction is at 25, where none starts: a trap.
    let reference = run(&skip, Semantics::Reference);
    assert_eq!((reference.status, reference.pc, reference.gas), (Status::Halt, 26, GAS - 2));
    let gp = run(&skip, Semantics::GrayPaper);
    assert_eq!((gp.status, gp.pc, gp.gas), (Status::Panic, 0, GAS - 2));
    // The reference reads the destination byte's low nibble, r7; the paper takes
    // min(12, 0x17) = r12.
    let reference = run(&destination, Semantics::Reference);
    assert_eq!((reference.status, reference.regs[7], reference.regs[12]), (Status::Halt, 11, 0));
    let gp = run(&destination, Semantics::GrayPaper);
    assert_eq!((gp.status, gp.regs[7], gp.regs[12]), (Status::Halt, 0xfeff_0000, 11));
    // The reference reads min(4, 9) = 4 address bytes, 0x02000080; the paper 9 mod 8 = 1
    // byte, 0x80 sign-extended to 0xffffff80.
    assert_eq!(run(&length, Semantics::Reference).status, Status::Fault(0x0200_0000));
    assert_eq!(run(&length, Semantics::GrayPaper).status, Status::Fault(0xffff_f000));
}

/// A `.jam` around a blob built from code, instruction starts and a jump table.
fn jam_of_blob(blob: &[u8]) -> Vec<u8> {
    with_metadata(&[], &build_spi(&[], &[], 0, 0, blob).unwrap())
}

#[test]
fn a_blob_that_does_not_decompose_exactly_panics_with_no_gas_under_the_gray_paper() {
    // jump_ind r0, 0: halts.
    let code = [0x32, 0x00];
    let blob = build_blob(0, &[], &code, &[true, false]);
    let halt = run(&jam_of_blob(&blob), Semantics::Reference);
    assert_eq!((halt.status, halt.gas), (Status::Halt, GAS - 1));
    let rejected = |blob: &[u8], reason: &str| {
        let jam = jam_of_blob(blob);
        assert_eq!(run(&jam, Semantics::Reference), halt);
        let outcome = run(&jam, Semantics::GrayPaper);
        assert_eq!(
            outcome,
            Outcome { status: Status::Panic, exit_code: 0, pc: 0, gas: GAS, regs: [0; 13], result: vec![] }
        );
        let vm = Instance::load_under(&jam, InputForm::Jam, &[], GAS, Semantics::GrayPaper).unwrap();
        assert_eq!(vm.rejection(), Some(reason));
    };
    let mut trailing = blob.clone();
    trailing.push(0);
    rejected(&trailing, "offset 22: 1 trailing bytes after the bitmask");
    let mut padding = blob.clone();
    *padding.last_mut().unwrap() |= 0x80;
    rejected(&padding, "offset 21: padding bits of the last bitmask byte are set");
    // A code length written in two bytes (0x80 0x02) instead of one.
    let mut long_length = vec![0x00, 0x00, 0x80, 0x02];
    long_length.extend_from_slice(&blob[3..]);
    rejected(&long_length, "offset 16: a header length uses a non-canonical variable-length encoding");
    // A file that does not decode at all: an error for the reference, a panic with no
    // gas used for the Gray Paper.
    let truncated = &jam_of_blob(&blob)[..9];
    let error = Instance::load(truncated, InputForm::Jam, &[], GAS).unwrap_err().to_string();
    let vm = Instance::load_under(truncated, InputForm::Jam, &[], GAS, Semantics::GrayPaper).unwrap();
    assert_eq!(vm.rejection(), Some(error.as_str()));
    assert_eq!(run(truncated, Semantics::GrayPaper).gas, GAS);
}

#[test]
fn a_jump_to_an_invalid_instruction_after_a_terminator_panics_at_the_jump_under_the_gray_paper() {
    // 0: jump @3; 2: trap; 3: opcode 2 (unassigned) marked as an instruction start.
    let jam = assemble("jump @3\ntrap\n.insn 02\ntrap\n");
    let reference = run(&jam, Semantics::Reference);
    // The reference jumps and panics at the target: 2 gas, pc 3.
    assert_eq!((reference.status, reference.pc, reference.gas), (Status::Panic, 3, GAS - 2));
    let gp = run(&jam, Semantics::GrayPaper);
    assert_eq!((gp.status, gp.pc, gp.gas), (Status::Panic, 0, GAS - 1));
    // Dynamic: the jump table's only entry is such a position, 6 (address 2).
    let jam = assemble(".jump_table @6\nload_imm r1, 2\njump_ind r1, 0\ntrap\n.insn 02\ntrap\n");
    let at = |o: &Outcome| (o.status, o.gas);
    assert_eq!(at(&run(&jam, Semantics::Reference)), (Status::Panic, GAS - 3));
    assert_eq!(at(&run(&jam, Semantics::GrayPaper)), (Status::Panic, GAS - 2));
    // A valid instruction after a terminator is a jump target in both.
    let jam = assemble("jump @3\ntrap\njump_ind r0, 0\n");
    assert_eq!(at(&run(&jam, Semantics::GrayPaper)), (Status::Halt, GAS - 2));
}

#[test]
fn a_jump_table_of_zero_byte_entries_panics_or_goes_to_pc_zero() {
    // Back at pc 0 with r2 = 1 the program halts. The jump table: one entry of 0 bytes.
    let text = "branch_eq_imm r2, 1, done\nload_imm r2, 1\nload_imm r1, 2\njump_ind r1, 0\ndone: jump_ind r0, 0\n";
    let assembled = assemble(text);
    let blob = pvm_asm::parse_file(&assembled, InputForm::Jam).unwrap().blob;
    let starts: Vec<bool> = (0..blob.code.len()).map(|pc| blob.bitmask().is_start(pc)).collect();
    let jam = jam_of_blob(&build_blob(0, &[0], blob.code, &starts));
    let reference = run(&jam, Semantics::Reference);
    assert_eq!((reference.status, reference.pc, reference.gas), (Status::Panic, 10, GAS - 4));
    let gp = run(&jam, Semantics::GrayPaper);
    assert_eq!((gp.status, gp.pc, gp.gas), (Status::Halt, 0, GAS - 6));
}

#[test]
fn sbrk_bumps_the_break_or_takes_the_lowest_free_pages() {
    // The heap starts at 0x20000 (no rw data, no heap pages).
    let jam = assemble(
        "load_imm r7, 100\nsbrk r8, r7\nsbrk r9, r7\nload_imm r7, 0\nsbrk r10, r7\nstore_u8 r7, 0x21063\njump_ind r0, 0\n",
    );
    let reference = run(&jam, Semantics::Reference);
    assert_eq!(reference.status, Status::Fault(0x21000));
    assert_eq!(reference.regs[8..11], [0x20000, 0x20064, 0x200c8]);
    let gp = run(&jam, Semantics::GrayPaper);
    assert_eq!(gp.status, Status::Halt);
    assert_eq!(gp.regs[8..11], [0x20000, 0x21000, 0x20000]);
    // Whole pages (what wasm2pvm's memory.grow asks for) come out alike.
    let jam = assemble("load_imm r7, 0x10000\nsbrk r8, r7\nsbrk r9, r7\njump_ind r0, 0\n");
    for semantics in [Semantics::Reference, Semantics::GrayPaper] {
        assert_eq!(run(&jam, semantics).regs[8..10], [0x20000, 0x30000]);
    }
}

#[test]
fn the_largest_layout_meets_the_spi_inequality_so_both_load_it() {
    // GP eq. A.41: 5·Z_Z + Z(|o|) + Z(|w| + z·Z_P) + Z(s) + Z_I ≤ 2^32 holds for every size
    // the container's fields can hold: no container is invalid by it.
    let z = |x: u64| x.div_ceil(1 << 16) << 16;
    let max3 = (1u64 << 24) - 1;
    let largest = 5 * (1 << 16) + z(max3) + z(max3 + 65535 * 4096) + z(max3) + (1 << 24);
    assert!(largest <= 1 << 32, "{largest}");
    let jam = assemble(".heap_pages 65535\n.stack_size 16777215\nload_imm r8, 0\njump_ind r0, 0\n");
    for semantics in [Semantics::Reference, Semantics::GrayPaper] {
        assert_eq!(run(&jam, semantics).status, Status::Halt);
    }
}

#[test]
fn the_host_call_index_is_its_low_32_bits_or_the_sign_extended_immediate() {
    let jam = assemble("ecalli -1\n");
    let reference = run(&jam, Semantics::Reference);
    assert_eq!((reference.status, reference.exit_code), (Status::Host(u64::MAX), 0xffff_ffff));
    let gp = run(&jam, Semantics::GrayPaper);
    assert_eq!(gp, Outcome { exit_code: u64::MAX, ..reference });
}

#[test]
fn a_faulting_instruction_costs_one_gas_in_both() {
    let jam = assemble("store_imm_u8 0x50000, 1\n");
    for semantics in [Semantics::Reference, Semantics::GrayPaper] {
        let outcome = run(&jam, semantics);
        assert_eq!((outcome.status, outcome.pc, outcome.gas), (Status::Fault(0x50000), 0, GAS - 1));
    }
}

fn pvm_run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::cargo_bin("pvm-run").unwrap().args(args).output().unwrap();
    (out.status.code(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn pvm_run_gp_on_every_engine() {
    let path = support::scratch_dir("gray-paper").join("read-only.jam");
    std::fs::write(&path, assemble(".ro_data 01\nstore_imm_u8 0x10002, 5\n")).unwrap();
    let path = path.to_str().unwrap();
    let registers = "Registers: [4294901760, 4278059008, 0, 0, 0, 0, 0, 4278124544, 0, 0, 0, 0, 0]";
    let (code, out, _) = pvm_run(&[path]);
    assert_eq!(code, Some(10));
    assert_eq!(
        out,
        format!(
            "Status: 1 (PANIC)\nExit code: 0\nProgram counter: 0\nGas remaining: 1099511627775\n{registers}\nResult: [0x]\n"
        )
    );
    for engine in ["interp", "native", "auto"] {
        let (code, out, err) = pvm_run(&[path, "--gp", "--engine", engine]);
        if engine == "native" && !pvm_runner::NATIVE_SUPPORTED {
            assert_eq!(code, Some(1), "{err}");
            continue;
        }
        assert_eq!(code, Some(11), "{err}");
        assert_eq!(
            out,
            format!(
                "Status: 2 (FAULT)\nExit code: 65536\nProgram counter: 0\nGas remaining: 1099511627775\n{registers}\nResult: [0x]\n"
            )
        );
    }
    // A file the Gray Paper's decoding rejects: a PANIC with no gas used, and why.
    let bad = support::scratch_dir("gray-paper").join("truncated.jam");
    std::fs::write(&bad, [0x00, 0x01]).unwrap();
    let bad = bad.to_str().unwrap();
    let (code, _, err) = pvm_run(&[bad]);
    assert_eq!(code, Some(1));
    let (code, out, err_gp) = pvm_run(&[bad, "--gp", "--gas", "50"]);
    assert_eq!(code, Some(10));
    assert!(out.starts_with("Status: 1 (PANIC)\nExit code: 0\nProgram counter: 0\nGas remaining: 50\n"), "{out}");
    let reason = err.trim_end().strip_prefix(&format!("pvm-run: {bad}: ")).unwrap();
    assert_eq!(err_gp, format!("pvm-run: {bad}: {reason}: under --gp a PANIC with no gas used\n"));
}

#[test]
fn the_default_is_the_reference_on_each_difference() {
    let code = [0x32, 0x00];
    let blob = build_blob(0, &[], &code, &[true, false]);
    let mut trailing = blob.clone();
    trailing.push(0);
    let mut padding = blob.clone();
    *padding.last_mut().unwrap() |= 0x80;
    let programs = [
        assemble(".ro_data 01\nstore_imm_u8 0x10002, 5\njump_ind r0, 0\n"),
        assemble("load_imm r8, 0\njump_ind r0, 0\n"),
        assemble("fallthrough\nfallthrough\ntrap\n"),
        assemble(".rw_data 48656c6c6f\nload_imm r7, 0x20000\nload_imm r8, 0x20005\njump_ind r0, 0\n"),
        assemble(".rw_data 48656c6c6f\nload_imm r7, 0x20000\nload_imm r8, 5\njump_ind r0, 0\n"),
        assemble("jump @3\ntrap\n.insn 02\ntrap\n"),
        assemble(".jump_table @6\nload_imm r1, 2\njump_ind r1, 0\ntrap\n.insn 02\ntrap\n"),
        assemble("load_imm r7, 100\nsbrk r8, r7\nsbrk r9, r7\nload_imm r7, 0\nsbrk r10, r7\nstore_u8 r7, 0x21063\n"),
        assemble("ecalli -1\n"),
        assemble("store_imm_u8 0x50000, 1\n"),
        jam_of_blob(&trailing),
        jam_of_blob(&padding),
    ]
    .into_iter()
    .chain(non_canonical_programs())
    .collect::<Vec<_>>();
    let mut jobs: Vec<support::Job> =
        programs.iter().map(|p| support::Job { program: p.clone(), args: vec![], gas: GAS }).collect();
    jobs.push(support::Job { program: assemble("load_imm r7, 1\nload_imm r7, 2\n"), args: vec![], gas: 1 });
    let reference = support::run_reference(&jobs);
    for (job, expected) in jobs.iter().zip(&reference) {
        assert_eq!(&support::run_ours(job), expected);
    }
}

#[test]
fn a_program_compiled_with_gp_returns_its_result_as_the_paper_reads_it() {
    // Both result conventions of `main`: a packed i64 and the result globals.
    let packed = br#"(module (memory 1) (data (i32.const 16) "hello")
        (func (export "main") (param i32 i32) (result i64) (i64.const 0x0000000500000010)))"#;
    let globals = br#"(module (memory 1) (data (i32.const 16) "hello")
        (global (export "result_ptr") (mut i32) (i32.const 0))
        (global (export "result_len") (mut i32) (i32.const 0))
        (func (export "main") (param i32 i32) (global.set 0 (i32.const 16)) (global.set 1 (i32.const 5))))"#;
    for source in [&packed[..], &globals[..]] {
        let compile = |gray_paper_result| {
            let options = pvm_compiler::Options { gray_paper_result, ..Default::default() };
            support::compile_jam(source, &options).unwrap().0
        };
        let (reference, gray_paper) = (compile(false), compile(true));
        // Each convention read by the semantics it was compiled for.
        assert_eq!(run(&reference, Semantics::Reference).result, b"hello");
        assert_eq!(run(&gray_paper, Semantics::GrayPaper).result, b"hello");
        // r7's low 32 bits are the start in both (the reference reads only those, the
        // paper all 64); r8 is the end or the length.
        let (r, g) = (run(&reference, Semantics::Reference), run(&gray_paper, Semantics::GrayPaper));
        let start = r.regs[7] & 0xffff_ffff;
        assert_eq!((g.regs[7], g.regs[8]), (start, 5));
        assert_eq!(r.regs[8], start + 5);
        // A program compiled for the reference reads as nothing under the paper.
        assert_eq!(run(&reference, Semantics::GrayPaper).result, b"");
    }
}
