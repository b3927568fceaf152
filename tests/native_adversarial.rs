//! Adversarial programs on the native engine, each checked against the interpreter on
//! every observable (status, exit code, pc, gas, registers, every page of memory):
//!
//! * every load and store form at every region boundary, across every page end inside
//!   the regions, around 0x10000 and at the top of the address space (0xFFFFFFF8 up),
//!   on pages not yet touched and on pages already written;
//! * dynamic jumps to every value class that is no valid jump-table entry (0, odd, past
//!   the table, entries that start no block, the halt address and its neighbours,
//!   values above 2^32), static jumps and branches to every code offset, and runs started
//!   at every code offset;
//! * long host-call loops: thousands of resumes, with the host changing registers,
//!   memory and gas, until the gas runs out;
//! * random blobs and mutated programs (`NATIVE_ADVERSARIAL_BLOBS`, default 20,000;
//!   `NATIVE_ADVERSARIAL_SEED`).
//!
//! Running at all is part of the check: a guest that escaped its memory or its code
//! would crash or hang the test process.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

mod support;

use pvm_isa::Opcode;
use pvm_isa::spi::{HALT_ADDRESS, PAGE_SIZE, SpiLayout};
use pvm_runner::{InputForm, Instance, Status};
use support::{Rng, agree, random::program};

fn assemble(text: &str) -> Vec<u8> {
    pvm_asm::assemble(&pvm_asm::parse(text).unwrap_or_else(|e| panic!("{e}:\n{text}")))
        .unwrap_or_else(|e| panic!("{e}:\n{text}"))
        .jam
}

/// The memory of the programs of [`memory_boundaries`]: read-only data over two pages,
/// read-write data over two pages plus a heap page, two stack pages, arguments.
const RO_LEN: u32 = 4100;
const RW_LEN: u32 = 5000;
const HEAP_PAGES: u16 = 1;
const STACK_SIZE: u32 = 8192;
const ARGS: [u8; 9] = [1, 2, 3, 4, 5, 6, 7, 8, 9];

/// Every address worth an access: 8 bytes around each region start and end and each page
/// end inside a region (and the break `sbrk` moves), around 0x10000, the top of memory.
fn boundary_addresses() -> Vec<u64> {
    let layout = SpiLayout::new(RO_LEN, RW_LEN, HEAP_PAGES, STACK_SIZE, ARGS.len() as u32);
    let page = u64::from(PAGE_SIZE);
    let mut edges = vec![0x1_0000, 1 << 32];
    for (region, _) in layout.regions() {
        edges.extend((region.start..=region.end).step_by(page as usize));
    }
    // `sbrk` in the program's prelude maps one more page after the heap.
    edges.push(layout.rw.end + page);
    let mut addresses: Vec<u64> = edges.iter().flat_map(|&e| e - 8..e + 8).map(|a| a & 0xffff_ffff).collect();
    addresses.extend([0, 8, 0xffff_f000]);
    addresses.sort_unstable();
    addresses.dedup();
    addresses
}

/// One access of every form and width: (mnemonic, access width).
const ACCESSES: [(&str, u64); 30] = [
    ("load_u8", 1),
    ("load_i8", 1),
    ("load_u16", 2),
    ("load_i16", 2),
    ("load_u32", 4),
    ("load_i32", 4),
    ("load_u64", 8),
    ("load_ind_u8", 1),
    ("load_ind_i8", 1),
    ("load_ind_u16", 2),
    ("load_ind_i16", 2),
    ("load_ind_u32", 4),
    ("load_ind_i32", 4),
    ("load_ind_u64", 8),
    ("store_u8", 1),
    ("store_u16", 2),
    ("store_u32", 4),
    ("store_u64", 8),
    ("store_ind_u8", 1),
    ("store_ind_u16", 2),
    ("store_ind_u32", 4),
    ("store_ind_u64", 8),
    ("store_imm_u8", 1),
    ("store_imm_u16", 2),
    ("store_imm_u32", 4),
    ("store_imm_u64", 8),
    ("store_imm_ind_u8", 1),
    ("store_imm_ind_u16", 2),
    ("store_imm_ind_u32", 4),
    ("store_imm_ind_u64", 8),
];

/// The instruction `name` at `address`: the direct forms name it, the indirect ones add
/// an offset to a base register (r1, set by the caller to `address - 3`).
fn access(name: &str, address: u64) -> String {
    let direct = address as u32;
    match name.split('_').nth(1) {
        Some("ind") if name.starts_with("load") => format!("{name} r2, r1, 3"),
        Some("ind") => format!("{name} r3, r1, 3"),
        Some("imm") if name.contains("_ind_") => format!("{name} r1, 3, -2"),
        Some("imm") => format!("{name} {direct}, -2"),
        _ if name.starts_with("load") => format!("{name} r2, {direct}"),
        _ => format!("store_{} r3, {direct}", &name["store_".len()..]),
    }
}

#[test]
fn memory_boundaries() {
    let hex = |b: &[u8]| support::hex(b);
    let ro: Vec<u8> = (0..RO_LEN).map(|i| (i * 7 + 1) as u8).collect();
    let rw: Vec<u8> = (0..RW_LEN).map(|i| (i * 13 + 5) as u8).collect();
    let addresses = boundary_addresses();
    let mut statuses = [0usize; 5];
    for &(name, width) in &ACCESSES {
        for &address in &addresses {
            // The access on an untouched page, a store of the same width there (which
            // allocates the page on success), the access again on the written page.
            let text = format!(
                ".ro_data {}\n.rw_data {}\n.heap_pages {HEAP_PAGES}\n.stack_size {STACK_SIZE}\n\
                 load_imm r5, 4096\n  sbrk r6, r5\n  load_imm_64 r3, 0x8877665544332211\n\
                 load_imm_64 r1, {base:#x}\n  {first}\n  store_ind_u{bits} r3, r1, 3\n  {first}\n  jump_ind r0, 0\n",
                hex(&ro),
                hex(&rw),
                base = address.wrapping_sub(3),
                first = access(name, address),
                bits = width * 8,
            );
            let jam = assemble(&text);
            let end = agree(|| Instance::load(&jam, InputForm::Jam, &ARGS, 1000).unwrap(), 0, &text);
            statuses[usize::from(end.status.code())] += 1;
        }
    }
    // Every access class is reached: success, panic (reserved or read-only), fault.
    let [halt, panic, fault, host, oog] = statuses;
    assert!(halt > 1000 && panic > 1000 && fault > 1000 && host == 0 && oog == 0, "{statuses:?}");
}

/// A program whose jump table has valid entries, entries inside instructions and past the
/// code, whose code mixes instruction lengths, and whose block starts include a position
/// where no instruction starts.
fn jump_program(jump: &str) -> String {
    format!(
        ".jump_table a, b, @1, @3, c, @200, @0\n\
         a:\n  {jump}\n\
         b:\n  load_imm_64 r9, 0x123456789abcdef0\n  add_imm_64 r9, r9, 1\n  trap\n\
         c:\n  load_imm r10, 77\n  ecalli 5\n  jump_ind r0, 0\n"
    )
}

#[test]
fn jumps_to_invalid_targets() {
    let (mut dynamic, mut fixed) = ([0; 5], [0; 5]);
    // Dynamic jumps: every small value (the table has 7 entries), every value class above.
    let mut values: Vec<u64> = (0..=20).collect();
    for base in [u64::from(HALT_ADDRESS), 1 << 31, 1 << 32, u64::MAX - 10] {
        values.extend(base - 4..=base + 4);
    }
    values.extend([0xffff_ffff, 0x1_0000_0002, 0x8000_0000_0000_0002]);
    for jump in
        ["jump_ind r1, 0", "jump_ind r1, 2", "load_imm_jump_ind r2, r1, 99, 0", "load_imm_jump_ind r1, r1, 9, 0"]
    {
        let text = jump_program(jump);
        let jam = assemble(&text);
        for &value in &values {
            let make = || {
                let mut vm = Instance::load(&jam, InputForm::Jam, &[], 1000).unwrap();
                vm.state_mut().regs_mut()[1] = value;
                vm
            };
            let end = agree(make, 1, &format_args!("r1 = {value:#x}:\n{text}"));
            dynamic[usize::from(end.status.code())] += 1;
        }
    }
    // Static jumps and branches to every code offset, and runs started at every offset.
    let code_len = pvm_asm::parse_file(&assemble(&jump_program("jump @0")), InputForm::Jam).unwrap().blob.code.len();
    for target in 0..code_len as u32 + 3 {
        for jump in [
            format!("jump @{target}"),
            format!("branch_eq r0, r0, @{target}"),
            format!("branch_ne_imm r0, 0, @{target}"),
            format!("load_imm_jump r4, 5, @{target}"),
        ] {
            let text = jump_program(&jump);
            let jam = assemble(&text);
            let end = agree(|| Instance::load(&jam, InputForm::Jam, &[], 1000).unwrap(), 1, &text);
            fixed[usize::from(end.status.code())] += 1;
            let make = || {
                let mut vm = Instance::load(&jam, InputForm::Jam, &[], 1000).unwrap();
                vm.set_pc(target);
                vm
            };
            let end = agree(make, 1, &format_args!("started at {target}:\n{text}"));
            fixed[usize::from(end.status.code())] += 1;
        }
    }
    // HALT, PANIC, FAULT, HOST (the host stops the second call), OOG.
    assert_eq!((dynamic, fixed), ([8, 219, 0, 0, 13], [16, 176, 0, 0, 8]));
}

#[test]
fn long_host_call_loops() {
    // 5,000 host calls mid-block (the host changes r7, r8's memory, one more register and
    // the gas each time), then a HALT; and the same loop stopped by the gas at every
    // position of its block in turn.
    let text = ".stack_size 4096\n\
         add_imm_64 r8, r1, -8\n  load_imm r11, 5000\n  fallthrough\n\
         loop:\n  add_imm_64 r12, r12, 3\n  ecalli 3\n  xor r2, r2, r7\n  load_ind_u64 r4, r8, 0\n  add_64 r2, r2, r4\n\
         add_imm_64 r11, r11, -1\n  branch_ne_imm r11, 0, loop\n  jump_ind r0, 0\n";
    let jam = assemble(text);
    let end = agree(|| Instance::load(&jam, InputForm::Jam, &[], 1 << 30).unwrap(), 10_000, &text);
    assert_eq!((end.status, end.calls), (Status::Halt, 5000));
    for gas in 40_000..40_010 {
        let end = agree(|| Instance::load(&jam, InputForm::Jam, &[], gas).unwrap(), 10_000, &format_args!("gas {gas}"));
        assert_eq!(end.status, Status::OutOfGas);
        assert!(end.calls > 3500, "{}", end.calls);
    }
}

#[test]
fn random_and_mutated_blobs() {
    let count: usize = std::env::var("NATIVE_ADVERSARIAL_BLOBS").map_or(20_000, |v| v.parse().unwrap());
    let seed: u64 = std::env::var("NATIVE_ADVERSARIAL_SEED").map_or(0xb10b5, |v| v.parse().unwrap());
    let mut rng = Rng(seed);
    let (mut loaded, mut statuses) = (0, [0usize; 5]);
    for n in 0..count {
        let (bytes, form) = if n % 2 == 0 {
            // A bare blob: a random jump table, random bytes under a random mask, mostly
            // valid opcodes where instructions start.
            let entries: Vec<u64> = (0..rng.below(6)).map(|_| rng.below(80)).collect();
            let starts: Vec<bool> = (0..1 + rng.below(64)).map(|i| i == 0 || rng.chance(40)).collect();
            let code: Vec<u8> = starts
                .iter()
                .map(|&start| if start && rng.chance(80) { *rng.pick(Opcode::ALL) as u8 } else { rng.next() as u8 })
                .collect();
            let size = pvm_isa::blob::min_entry_size(&entries).max(rng.below(3) as u8);
            (pvm_isa::blob::build_blob(size, &entries, &code, &starts), InputForm::Blob)
        } else {
            // A random program with bytes overwritten, inserted or cut.
            let mut jam = assemble(&program(&mut rng).0);
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(jam.len() as u64) as usize;
                match rng.below(4) {
                    0 => jam.truncate(at.max(1)),
                    1 => jam.insert(at, rng.next() as u8),
                    _ => jam[at] = rng.next() as u8,
                }
            }
            (jam, InputForm::Jam)
        };
        // A bare blob has no memory for arguments.
        let args: &[u8] = if form == InputForm::Jam { &[1, 2, 3] } else { &[] };
        if Instance::load(&bytes, form, args, 0).is_err() {
            continue;
        }
        loaded += 1;
        let gas = rng.below(20_000) as i64;
        let pc = rng.chance(20).then(|| rng.below(80) as u32);
        let make = || {
            let mut vm = Instance::load(&bytes, form, args, gas).unwrap();
            if let Some(pc) = pc {
                vm.set_pc(pc);
            }
            vm
        };
        let end = agree(make, 2, &format_args!("input {n} ({form:?}), gas {gas}, pc {pc:?}: {}", support::hex(&bytes)));
        statuses[usize::from(end.status.code())] += 1;
    }
    println!("{count} inputs, {loaded} loaded and agree; HALT, PANIC, FAULT, HOST, OOG: {statuses:?}");
    assert!(loaded > count / 2 && statuses.iter().all(|&s| s > 0), "{loaded}: {statuses:?}");
}
