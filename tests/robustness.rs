//! No input makes a reader panic or hang: random bytes and mutated valid files through
//! every binary reader (SPI and blob parsers, the inspector, the disassembler, the
//! runner's loader and a short run, the nested-run outcome decoder), random text through
//! every text reader (assembly parser and assembler, hex, import maps, WebAssembly text
//! and the compiler), mutated WebAssembly modules through the compiler, and a sample of
//! each through the command-line programs themselves. The text alphabet mixes multi-byte
//! UTF-8 (two-, three- and four-byte characters, combining marks) with long tokens.
//!
//! 100,000 inputs per property by default (`ROBUSTNESS_CASES` overrides); the compiler
//! property runs a tenth of that, the command-line sample a 2,000th.

mod support;

use proptest::prelude::*;
use pvm_asm::InputForm;

use assert_cmd::Command;
use pvm_compiler::Options;

/// Inputs per property: `ROBUSTNESS_CASES`, 100,000 by default. (proptest's own
/// `PROPTEST_CASES` would override every property's count alike.)
fn cases() -> u32 {
    std::env::var("ROBUSTNESS_CASES").map_or(100_000, |v| v.parse().unwrap())
}

/// Cases for the properties that compile (LLVM is slower than the readers).
fn compile_cases() -> u32 {
    (cases() / 10).max(1)
}

/// Cases for the property that starts the command-line programs (seven processes each).
fn cli_cases() -> u32 {
    (cases() / 2000).max(1)
}

/// Text tokens: assembly syntax, hex, numbers, multi-byte UTF-8, long tokens.
const TOKENS: &str = "([a-z_0-9]{1,12}|r[0-9]{1,2}|, |:|&|@|=|#|-?0x[0-9a-f]{1,17}|[0-9]{1,40}|\\.[a-z_]{2,16}|\
                      \\.(ro_data|rw_data|bytes|insn|metadata_hex|metadata|jump_table|stack_size|heap_pages) |\
                      \"|\\\\u\\{[0-9a-f]{0,9}\\}|;|\n| |é|ǅ|€|🦀|\u{301}|\u{10FFFF}|\u{FEFF}|\
                      [a-zA-Z_$.]{40,300}|[0-9a-fA-F]{40,600}|\\((module|func|memory|data|i32\\.load|export)|\\))";

/// A valid module with memory, data, a loop and a call, to mutate.
fn sample_wasm() -> Vec<u8> {
    wat::parse_str(
        r#"(module (memory 1 4) (data (i32.const 8) "\01\02")
             (global $g (mut i32) (i32.const 3))
             (func $f (param i32) (result i32) (i32.add (local.get 0) (global.get $g)))
             (func (export "main") (param i32 i32) (result i64) (local $i i32)
               (loop $l (local.set $i (call $f (i32.load8_u offset=8 (local.get $i))))
                 (br_if $l (i32.lt_u (local.get $i) (local.get 1))))
               (i64.extend_i32_u (local.get $i))))"#,
    )
    .unwrap()
}

/// The compiler on `bytes` (binary or text), as `wasm2pvm` calls it.
fn compile_everything(bytes: &[u8]) {
    if let Ok(wasm) = pvm_compiler::read_input(bytes) {
        let _ = pvm_compiler::compile(&wasm, &Options::default());
    }
}

/// Every text reader on `text`.
fn read_text(text: &str) {
    if let Ok(program) = pvm_asm::parse(text) {
        let _ = pvm_asm::assemble(&program);
    }
    let _ = pvm_isa::hex::decode(text);
    let _ = Options::default().add_import_map(text, "map");
    compile_everything(text.as_bytes());
}

/// Runs a command-line program on `stdin` and extra arguments: it must exit with a status
/// (not a signal) and, when it fails, say why in one line, never with a panic message.
fn run_cli(program: &str, args: &[&str], stdin: &[u8]) {
    let out = Command::cargo_bin(program).unwrap().args(args).write_stdin(stdin.to_vec()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code().is_some(), "{program} {args:?} was killed: {err}");
    assert!(!err.contains("panicked"), "{program} {args:?}: {err}");
}

/// A scratch file holding an input, for the programs that take a file name; removed
/// when dropped.
struct ScratchFile(std::path::PathBuf);

impl ScratchFile {
    fn new(bytes: &[u8]) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("pvm-robustness-{}-{n}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        ScratchFile(path)
    }

    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A valid `.jam` with every kind of section, to mutate.
fn sample() -> Vec<u8> {
    let text = ".metadata \"sample\"\n.ro_data 0102\n.rw_data 0304\n.heap_pages 1\n.stack_size 4096\n\
                .jump_table end\nstart:\n  load_imm r7, 5\n  load_imm_64 r8, 0x1122334455667788\n  \
                branch_eq_imm r7, 5, end\n  trap\nend:\n  load_imm r9, &end\n  jump_ind r0, 0\n";
    pvm_asm::assemble(&pvm_asm::parse(text).unwrap()).unwrap().jam
}

/// Every reader on `bytes`, in every form; a successful load also runs a little.
fn read_everything(bytes: &[u8]) {
    for form in [InputForm::Jam, InputForm::Spi, InputForm::Blob] {
        if let Ok(report) = pvm_asm::inspect::inspect(bytes, form) {
            let _ = report.to_text("x");
            let _ = report.to_json("x");
        }
        if let Ok(parsed) = pvm_asm::parse_file(bytes, form) {
            let _ = pvm_asm::disassemble(&parsed);
        }
    }
    let forms = [(InputForm::Jam, &[1u8, 2][..]), (InputForm::Spi, &[][..]), (InputForm::Blob, &[][..])];
    for (form, args) in forms {
        // Every engine runs it (the native one on x86-64 Linux) and they end alike.
        let ends: Vec<_> = support::engines()
            .into_iter()
            .filter_map(|engine| {
                let mut vm = pvm_runner::Instance::load(bytes, form, args, 50).ok()?;
                vm.set_engine(engine).expect("engine available");
                let status = vm.run();
                Some((status, vm.pc(), vm.state().gas(), *vm.state().regs()))
            })
            .collect();
        assert!(ends.iter().all(|end| end == &ends[0]), "engines differ: {ends:?}");
    }
    let _ = pvm_runner::nested::Outcome::decode(bytes);
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match *m {
            Mutation::Truncate(i) => bytes.truncate(i % len),
            Mutation::Set(i, b) if !bytes.is_empty() => bytes[i % len] = b,
            Mutation::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            Mutation::Remove(i) if !bytes.is_empty() => {
                bytes.remove(i % len);
            }
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        read_everything(&bytes);
    }

    #[test]
    fn mutated_files_never_panic(mutations in proptest::collection::vec(mutation(), 1..4)) {
        read_everything(&apply(sample(), &mutations));
    }

    #[test]
    fn random_text_never_panics(text in proptest::string::string_regex(&format!("{TOKENS}{{0,24}}")).unwrap()) {
        read_text(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: compile_cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_modules_never_panic_the_compiler(mutations in proptest::collection::vec(mutation(), 1..4)) {
        compile_everything(&apply(sample_wasm(), &mutations));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cli_cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_programs_never_panic(
        mutations in proptest::collection::vec(mutation(), 1..4),
        text in proptest::string::string_regex(&format!("{TOKENS}{{0,24}}")).unwrap(),
    ) {
        let jam = apply(sample(), &mutations);
        let file = ScratchFile::new(&jam);
        run_cli("jam-inspect", &[file.arg()], b"");
        run_cli("jam-inspect", &["--asm", "--no-metadata", file.arg()], b"");
        run_cli("pvm-run", &["--gas", "50", file.arg(), &text], b"");
        run_cli("jam-pack", &[], text.as_bytes());
        run_cli("wasm2pvm", &[], text.as_bytes());
        run_cli("wasm2pvm", &[], &apply(sample_wasm(), &mutations));
        let map = ScratchFile::new(text.as_bytes());
        run_cli("wasm2pvm", &["--imports", map.arg()], &sample_wasm());
    }
}
