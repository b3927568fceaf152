//! No input makes the decoders panic or hang: random bytes and mutated valid files through
//! every reader (SPI and blob parsers, the inspector, the disassembler, the runner's
//! loader, a short run), and random text through the assembly parser and assembler —
//! 100,000 inputs per property (`PROPTEST_CASES` overrides).

mod support;

use proptest::prelude::*;
use pvm_asm::InputForm;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").map_or(100_000, |v| v.parse().unwrap())
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
    fn random_assembly_never_panics(text in "([a-z_0-9]{1,12}|r[0-9]{1,2}|, |:|&|@|-?0x[0-9a-f]{1,17}|\\.[a-z_]{2,16}|\"|;|\n| ){0,24}") {
        if let Ok(program) = pvm_asm::parse(&text) {
            let _ = pvm_asm::assemble(&program);
        }
    }
}
