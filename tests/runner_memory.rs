//! Memory is proportional to the pages touched: a program that maps almost the whole
//! 32-bit space with `sbrk` and writes a byte every 16 MiB of it, then on the stack and in
//! the args zone, runs in a few MiB. (One test in this file, so the process's peak
//! resident size measures this run alone.)

use pvm_runner::{InputForm, Instance, Status};

const PROGRAM: &str = "
.stack_size 65536
    load_imm_64 r1, 0xf0000000
    sbrk r2, r1                     ; r2 = the old break, the start of 3.75 GiB of heap
    load_imm_64 r3, 0xf0000000
    fallthrough
loop:
    store_ind_u8 r2, r2, 0
    add_imm_64 r2, r2, 0x1000000
    branch_lt_u r2, r3, loop
    load_imm r4, 0xfefdfff8
    store_ind_u64 r2, r4, 0         ; the top of the stack
    load_u8 r6, 0xfeff0000          ; the args zone
    add_64 r7, r6, r4
    load_imm r8, 0
    jump_ind r0, 0
";

fn peak_resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn pages_across_the_whole_address_space_cost_a_few_mib() {
    let jam = pvm_asm::assemble(&pvm_asm::parse(PROGRAM).unwrap()).unwrap().jam;
    let before = peak_resident_kib();
    let mut vm = Instance::load(&jam, InputForm::Jam, &[1, 2, 3], 1 << 20).unwrap();
    let status = vm.run();
    assert_eq!(status, Status::Halt, "pc {}", vm.pc());
    // 240 heap pages, one stack page, the args page.
    assert_eq!(vm.state().memory().allocated_bytes(), (240 + 1 + 1) * 4096);
    let grown = peak_resident_kib() - before;
    assert!(grown < 8 * 1024, "the run grew the peak resident size by {grown} KiB");
    println!("peak resident size grew by {grown} KiB");
}
