//! Paged memory: a flat table of 2^20 page entries pointing into a pool of 4 KiB pages
//! that are allocated on first access. The table (and the native engine's two below) is
//! an anonymous mapping whose pages the operating system zeroes on first touch, so that
//! neither creating nor dropping a memory costs time in proportion to the address space,
//! and memory held is proportional to the pages touched.
//!
//! For the native engine the memory also keeps, per page, the address of the bytes a
//! load may read and of the bytes a store may write (0 unless the page is allocated and
//! readable, or writable), so that generated code reaches a page with one table lookup.
//!
//! Access rules (pvm-spec §1.2): the first offending byte of an access decides its
//! outcome — below 0x10000 a PANIC, else a FAULT at its page; a write to a read-only page
//! is a PANIC, as in the reference implementation, or under [`Semantics::GrayPaper`] a
//! FAULT at its page. An access that fails changes nothing. `sbrk` is the reference's
//! bump allocator, or under [`Semantics::GrayPaper`] the lowest free pages from the heap
//! start (docs/runner.md).

use crate::semantics::Semantics;
use memmap2::MmapMut;
use pvm_isa::spi::PAGE_SIZE;
use std::marker::PhantomData;

const PAGE: usize = PAGE_SIZE as usize;
const PAGES: usize = 1 << 20;
/// Entry flag: the page is mapped (readable).
pub(crate) const MAPPED: u32 = 1;
/// Entry flag: the page is writable.
pub(crate) const WRITABLE: u32 = 2;
/// Entries keep the page's slot in the pool above these flags; slot 0 means "mapped but
/// not yet materialised" (reads as zeros).
pub(crate) const SLOT_SHIFT: u32 = 2;

/// Why an access failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessError {
    /// A PANIC: an address below 0x10000, or (reference semantics) a write to a
    /// read-only page.
    Panic,
    /// A page FAULT at this page address.
    Fault(u32),
}

/// Paged memory.
#[derive(Debug)]
pub struct Memory {
    table: PageWords<u32>,
    pool: Vec<Box<[u8; PAGE]>>,
    /// Per page: the address of its pool page when it is mapped and has one, else 0.
    read_addresses: PageWords<usize>,
    /// Per page: the address of its pool page when it is writable and has one, else 0.
    write_addresses: PageWords<usize>,
    /// The page each pool slot holds (slot 0 holds none).
    slot_pages: Vec<u32>,
    /// The sbrk break (next address it hands out).
    pub heap_break: u64,
    /// The highest address sbrk may reach.
    pub heap_limit: u64,
    /// Where the heap starts: the lowest address the Gray Paper's `sbrk` hands out.
    pub heap_start: u64,
    /// Whose rules decide writes to read-only pages and `sbrk`.
    pub semantics: Semantics,
    /// For the Gray Paper's `sbrk`: a page from which the search for free pages may start
    /// (every page from the first heap page it was found for up to it is mapped; pages are
    /// never unmapped, so it stays true), and that first heap page.
    free_search: (u64, u64),
}

/// Address below which every access panics.
pub(crate) const RESERVED: u32 = 0x1_0000;

/// A word that a [`PageWords`] table holds, kept in native byte order.
trait Word: Copy {
    const BYTES: usize;
    fn decode(bytes: &[u8]) -> Self;
    fn encode(self, bytes: &mut [u8]);
}

impl Word for u32 {
    const BYTES: usize = 4;
    fn decode(bytes: &[u8]) -> Self {
        u32::from_ne_bytes(bytes.try_into().expect("4 bytes"))
    }
    fn encode(self, bytes: &mut [u8]) {
        bytes.copy_from_slice(&self.to_ne_bytes());
    }
}

impl Word for usize {
    const BYTES: usize = std::mem::size_of::<usize>();
    fn decode(bytes: &[u8]) -> Self {
        usize::from_ne_bytes(bytes.try_into().expect("a word"))
    }
    fn encode(self, bytes: &mut [u8]) {
        bytes.copy_from_slice(&self.to_ne_bytes());
    }
}

/// One word per page of the 32-bit address space, all zero at first, in an anonymous
/// mapping: the operating system hands out its pages zeroed when first touched. (A
/// `vec![0; 1 << 20]` costs a `memset` of the whole table as soon as the allocator reuses
/// freed memory for it, which made short runs pay for 20 MiB of zeroing each.)
#[derive(Debug)]
struct PageWords<W> {
    bytes: MmapMut,
    word: PhantomData<W>,
}

impl<W: Word> PageWords<W> {
    fn new() -> Self {
        let bytes = MmapMut::map_anon(PAGES * W::BYTES).expect("address space for a page table");
        PageWords { bytes, word: PhantomData }
    }

    #[inline(always)]
    fn get(&self, page: usize) -> W {
        W::decode(&self.bytes[page * W::BYTES..(page + 1) * W::BYTES])
    }

    #[inline(always)]
    fn set(&mut self, page: usize, value: W) {
        value.encode(&mut self.bytes[page * W::BYTES..(page + 1) * W::BYTES]);
    }

    /// The table's first word (its words follow contiguously, aligned: the mapping starts
    /// at a page boundary).
    fn as_ptr(&self) -> *const W {
        self.bytes.as_ptr().cast()
    }
}

impl Default for Memory {
    fn default() -> Self {
        Self::new()
    }
}

impl Memory {
    /// Empty memory: nothing mapped.
    pub fn new() -> Self {
        Memory {
            table: PageWords::new(),
            pool: vec![Box::new([0; PAGE])],
            slot_pages: vec![0],
            read_addresses: PageWords::new(),
            write_addresses: PageWords::new(),
            heap_break: 0,
            heap_limit: 0,
            heap_start: 0,
            semantics: Semantics::Reference,
            free_search: (0, 0),
        }
    }

    /// Sets the native engine's addresses of page `page` from its entry (none below
    /// 0x10000, where every access panics, nor for a page not yet allocated, so that
    /// mapping pages touches neither table).
    fn update_addresses(&mut self, page: usize) {
        let entry = if page < (RESERVED as usize) / PAGE { 0 } else { self.table.get(page) };
        let slot = (entry >> SLOT_SHIFT) as usize;
        if slot == 0 {
            return;
        }
        let bytes = self.pool[slot].as_ptr() as usize;
        self.read_addresses.set(page, if entry & MAPPED != 0 { bytes } else { 0 });
        self.write_addresses.set(page, if entry & (MAPPED | WRITABLE) == MAPPED | WRITABLE { bytes } else { 0 });
    }

    /// Maps `[start, end)` (page-aligned) with the given access, zero-filled.
    pub fn map(&mut self, start: u64, end: u64, writable: bool) {
        let flags = MAPPED | if writable { WRITABLE } else { 0 };
        let mut page = start / PAGE as u64;
        while page * (PAGE as u64) < end && page < PAGES as u64 {
            let entry = self.table.get(page as usize);
            self.table.set(page as usize, (entry & !(MAPPED | WRITABLE)) | flags);
            self.update_addresses(page as usize);
            page += 1;
        }
    }

    /// For the native engine: the tables of read and write addresses (2^20 entries each,
    /// entry `p` for page `p`: the address of 4,096 bytes the access may read, or write,
    /// or 0). Both tables live as long as the memory and never move; every nonzero entry
    /// stays valid until the memory is dropped (pool pages never move or go away).
    pub(crate) fn page_addresses(&self) -> (*const usize, *const usize) {
        (self.read_addresses.as_ptr(), self.write_addresses.as_ptr())
    }

    /// Whether the page holding `address` is mapped.
    pub fn is_mapped(&self, address: u32) -> bool {
        self.table.get((address as usize) >> 12) & MAPPED != 0
    }

    /// Bytes of page memory allocated (for measuring the footprint).
    pub fn allocated_bytes(&self) -> usize {
        (self.pool.len() - 1) * PAGE
    }

    fn page_mut(&mut self, page: usize) -> &mut [u8; PAGE] {
        let entry = self.table.get(page);
        let slot = (entry >> SLOT_SHIFT) as usize;
        if slot == 0 {
            self.pool.push(Box::new([0; PAGE]));
            self.slot_pages.push(page as u32);
            let slot = self.pool.len() - 1;
            self.table.set(page, (entry & (MAPPED | WRITABLE)) | ((slot as u32) << SLOT_SHIFT));
            self.update_addresses(page);
            &mut self.pool[slot]
        } else {
            &mut self.pool[slot]
        }
    }

    fn page(&self, page: usize) -> &[u8; PAGE] {
        &self.pool[(self.table.get(page) >> SLOT_SHIFT) as usize]
    }

    /// Writes bytes at `address` ignoring access rights (program initialisation).
    pub fn write_initial(&mut self, address: u64, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            let a = (address + i as u64) as usize;
            self.page_mut(a >> 12)[a & (PAGE - 1)] = b;
        }
    }

    /// The outcome for the first offending byte at `address`.
    fn offending(address: u32) -> AccessError {
        if address < RESERVED { AccessError::Panic } else { AccessError::Fault(address & !(PAGE_SIZE - 1)) }
    }

    /// Checks that `len` bytes from `address` (wrapping at 2^32) are readable.
    fn check_read(&self, address: u32, len: u32) -> Result<(), AccessError> {
        for i in 0..len {
            let a = address.wrapping_add(i);
            if a < RESERVED || self.table.get((a as usize) >> 12) & MAPPED == 0 {
                return Err(Self::offending(a));
            }
        }
        Ok(())
    }

    /// Checks that `len` bytes from `address` are writable.
    fn check_write(&self, address: u32, len: u32) -> Result<(), AccessError> {
        for i in 0..len {
            let a = address.wrapping_add(i);
            let entry = if a < RESERVED { 0 } else { self.table.get((a as usize) >> 12) };
            if entry & MAPPED == 0 {
                return Err(Self::offending(a));
            }
            if entry & WRITABLE == 0 {
                return Err(match self.semantics {
                    Semantics::Reference => AccessError::Panic,
                    Semantics::GrayPaper => Self::offending(a),
                });
            }
        }
        Ok(())
    }

    /// Reads `N` bytes (little-endian) at `address`.
    #[inline(always)]
    pub fn read<const N: usize>(&mut self, address: u32) -> Result<[u8; N], AccessError> {
        let offset = (address as usize) & (PAGE - 1);
        let page = (address as usize) >> 12;
        if offset + N <= PAGE && address >= RESERVED {
            let entry = self.table.get(page);
            if entry & MAPPED != 0 {
                let mut out = [0u8; N];
                if entry >> SLOT_SHIFT != 0 {
                    out.copy_from_slice(&self.page(page)[offset..offset + N]);
                }
                return Ok(out);
            }
        }
        self.check_read(address, N as u32)?;
        let mut out = [0u8; N];
        for (i, byte) in out.iter_mut().enumerate() {
            let a = address.wrapping_add(i as u32) as usize;
            if self.table.get(a >> 12) >> SLOT_SHIFT != 0 {
                *byte = self.page(a >> 12)[a & (PAGE - 1)];
            }
        }
        Ok(out)
    }

    /// Writes `N` bytes at `address`.
    #[inline(always)]
    pub fn write<const N: usize>(&mut self, address: u32, bytes: [u8; N]) -> Result<(), AccessError> {
        let offset = (address as usize) & (PAGE - 1);
        let page = (address as usize) >> 12;
        if offset + N <= PAGE && address >= RESERVED {
            let entry = self.table.get(page);
            if entry & (MAPPED | WRITABLE) == MAPPED | WRITABLE {
                self.page_mut(page)[offset..offset + N].copy_from_slice(&bytes);
                return Ok(());
            }
        }
        self.check_write(address, N as u32)?;
        for (i, &b) in bytes.iter().enumerate() {
            let a = address.wrapping_add(i as u32) as usize;
            self.page_mut(a >> 12)[a & (PAGE - 1)] = b;
        }
        Ok(())
    }

    /// Reads `len` bytes if they are all readable.
    pub fn read_bytes(&mut self, address: u32, len: u32) -> Option<Vec<u8>> {
        self.check_read(address, len).ok()?;
        Some((0..len).map(|i| self.read::<1>(address.wrapping_add(i)).map(|b| b[0]).unwrap_or(0)).collect())
    }

    /// Writes bytes if they are all writable.
    pub fn write_bytes(&mut self, address: u32, bytes: &[u8]) -> Result<(), AccessError> {
        self.check_write(address, bytes.len() as u32)?;
        for (i, &b) in bytes.iter().enumerate() {
            self.write::<1>(address.wrapping_add(i as u32), [b])?;
        }
        Ok(())
    }

    /// `sbrk` under the memory's semantics; `None` is a PANIC.
    pub fn sbrk(&mut self, size: u32) -> Option<u64> {
        match self.semantics {
            Semantics::Reference => self.sbrk_bump(size),
            Semantics::GrayPaper => self.sbrk_lowest_free(size),
        }
    }

    /// The reference's `sbrk`: returns the old break after moving it up by `size` and
    /// mapping the new pages writable; `None` past the limit.
    fn sbrk_bump(&mut self, size: u32) -> Option<u64> {
        let old = self.heap_break;
        let new = old + u64::from(size);
        if new > self.heap_limit {
            return None;
        }
        if size > 0 {
            let start = old / PAGE as u64 * PAGE as u64;
            self.map(start, new, true);
        }
        self.heap_break = new;
        Some(old)
    }

    /// The Gray Paper's `sbrk` (pvm-spec §10 row 10): the lowest `x` at or above the heap
    /// start such that none of `[x, x + size)` was accessible before, with those bytes
    /// mapped writable after. Accessibility is by page, so `x` is the start of the first
    /// run of inaccessible pages long enough (below 2^32); `size` 0 gives the heap start
    /// and maps nothing. `None` when no run is long enough.
    fn sbrk_lowest_free(&mut self, size: u32) -> Option<u64> {
        if size == 0 {
            return Some(self.heap_start);
        }
        let pages_needed = u64::from(size).div_ceil(PAGE as u64);
        let first = self.heap_start.div_ceil(PAGE as u64);
        let (searched_from, mapped_below) = self.free_search;
        let start = if searched_from == first { mapped_below.max(first) } else { first };
        let mut run_start = start;
        let mut all_mapped = true;
        for page in start..PAGES as u64 {
            if self.table.get(page as usize) & MAPPED != 0 {
                if all_mapped {
                    self.free_search = (first, page + 1);
                }
                run_start = page + 1;
                continue;
            }
            all_mapped = false;
            if page + 1 - run_start == pages_needed {
                let x = run_start * PAGE as u64;
                self.map(x, x + u64::from(size), true);
                return Some(x);
            }
        }
        None
    }

    /// Every page that holds data, with its address and contents (for comparisons).
    pub fn pages(&self) -> impl Iterator<Item = (u32, &[u8; PAGE])> + '_ {
        let mut slots: Vec<(u32, usize)> = self.slot_pages.iter().copied().zip(0..).skip(1).collect();
        slots.sort_unstable();
        slots.into_iter().map(move |(page, slot)| (page << 12, &*self.pool[slot]))
    }
}

impl Clone for Memory {
    /// A copy with its own pages (and page addresses pointing at them).
    fn clone(&self) -> Self {
        let mut copy = Memory {
            table: PageWords::new(),
            pool: self.pool.clone(),
            slot_pages: self.slot_pages.clone(),
            read_addresses: PageWords::new(),
            write_addresses: PageWords::new(),
            heap_break: self.heap_break,
            heap_limit: self.heap_limit,
            heap_start: self.heap_start,
            semantics: self.semantics,
            free_search: self.free_search,
        };
        for page in 0..PAGES {
            let entry = self.table.get(page);
            if entry != 0 {
                copy.table.set(page, entry);
                copy.update_addresses(page);
            }
        }
        copy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_rules() {
        let mut m = Memory::new();
        m.map(0x20000, 0x22000, true);
        m.map(0x30000, 0x31000, false);
        assert_eq!(m.write::<4>(0x20ffe, [1, 2, 3, 4]), Ok(()));
        assert_eq!(m.read::<4>(0x20ffe), Ok([1, 2, 3, 4]));
        assert_eq!(m.read::<2>(0x21fff), Err(AccessError::Fault(0x22000)));
        assert_eq!(m.write::<1>(0x30000, [1]), Err(AccessError::Panic));
        assert_eq!(m.read::<1>(0x30000), Ok([0]));
        assert_eq!(m.read::<1>(0xffff), Err(AccessError::Panic));
        assert_eq!(m.read::<4>(0xffff_fffe), Err(AccessError::Fault(0xffff_f000)));
        // A failed write changes nothing.
        assert_eq!(m.write::<4>(0x21ffe, [9, 9, 9, 9]), Err(AccessError::Fault(0x22000)));
        assert_eq!(m.read::<2>(0x21ffe), Ok([0, 0]));
        assert_eq!(m.allocated_bytes(), 2 * 4096);
    }

    #[test]
    fn page_addresses_follow_the_pages() {
        let mut m = Memory::new();
        m.map(0x20000, 0x21000, true);
        m.map(0x30000, 0x31000, false);
        let read = |m: &Memory, page: usize| m.read_addresses.get(page);
        let write = |m: &Memory, page: usize| m.write_addresses.get(page);
        assert_eq!((read(&m, 0x20), write(&m, 0x20), read(&m, 0x30), write(&m, 0x30)), (0, 0, 0, 0));
        assert_eq!((read(&m, 0x21), write(&m, 0x21)), (0, 0));
        m.write::<1>(0x20005, [7]).unwrap();
        m.write_initial(0x30000, &[9]);
        let (rw, ro) = (m.pool[1].as_ptr() as usize, m.pool[2].as_ptr() as usize);
        assert_eq!((read(&m, 0x20), write(&m, 0x20), read(&m, 0x30), write(&m, 0x30)), (rw, rw, ro, 0));
        let copy = m.clone();
        let copied = copy.pool[1].as_ptr() as usize;
        assert_ne!(copied, rw);
        assert_eq!((read(&copy, 0x20), write(&copy, 0x20)), (copied, copied));
    }

    #[test]
    fn sbrk_maps_pages_up_to_the_break() {
        let mut m = Memory::new();
        m.heap_break = 0x23000;
        m.heap_limit = 0x30000;
        assert_eq!(m.sbrk(0), Some(0x23000));
        assert_eq!(m.sbrk(100), Some(0x23000));
        assert_eq!(m.write::<1>(0x23fff, [1]), Ok(()));
        assert_eq!(m.write::<1>(0x24000, [1]), Err(AccessError::Fault(0x24000)));
        assert_eq!(m.sbrk(0x10000), None);
        assert_eq!(m.sbrk(0), Some(0x23064));
    }

    #[test]
    fn gray_paper_sbrk_takes_the_lowest_free_run() {
        let mut m = Memory::new();
        m.semantics = Semantics::GrayPaper;
        m.heap_start = 0x20000;
        m.map(0x22000, 0x23000, true);
        assert_eq!(m.sbrk(0x1000), Some(0x20000));
        assert_eq!(m.sbrk(0x1000), Some(0x21000));
        // The mapped prefix now ends at 0x23000; a two-page run starts above it.
        assert_eq!(m.sbrk(0x2000), Some(0x23000));
        m.map(0x26000, 0x27000, true);
        assert_eq!(m.sbrk(0x2000), Some(0x27000));
        assert_eq!(m.sbrk(0x1000), Some(0x25000));
        // A new heap start is searched from, not the old one's mapped prefix.
        m.heap_start = 0x10000;
        assert_eq!(m.sbrk(0x1000), Some(0x10000));
        m.heap_start = 0x20000;
        assert_eq!(m.sbrk(0x1000), Some(0x29000));
        assert_eq!(m.sbrk(0), Some(0x20000));
        assert_eq!(m.sbrk(0xffff_f000), None);
    }

    #[test]
    fn sparse_pages_cost_little() {
        let mut m = Memory::new();
        m.map(0x10000, 0xffff_0000, true);
        for page in (0x10u32..0xffff).step_by(0x100) {
            m.write::<1>(page << 12, [1]).unwrap();
        }
        assert_eq!(m.allocated_bytes(), 256 * 4096);
    }

    /// The invariant the native engine's loads and stores rely on (`native/code.rs`), over
    /// all 2^20 pages: a nonzero read entry is the address of the page's own bytes (those
    /// `pages()` reports for it), only above 0x10000 and for a mapped page; a nonzero
    /// write entry the same, only for a writable page. And every page that holds data has
    /// its entries when it is readable (writable), so the fast path is taken. Returns the
    /// number of pages with a read entry and with a write entry.
    fn assert_address_tables(m: &Memory) -> (usize, usize) {
        let held: std::collections::HashMap<usize, usize> =
            m.pages().map(|(address, bytes)| ((address >> 12) as usize, bytes.as_ptr() as usize)).collect();
        let mut counts = (0, 0);
        for page in 0..PAGES {
            let address = (page << 12) as u32;
            let readable = address >= RESERVED && m.is_mapped(address);
            let writable = readable && m.check_write(address, 1).is_ok();
            let own = held.get(&page).copied().unwrap_or(0);
            let (read, write) = (m.read_addresses.get(page), m.write_addresses.get(page));
            assert_eq!(read, if readable { own } else { 0 }, "read entry of page {address:#x}");
            assert_eq!(write, if writable { own } else { 0 }, "write entry of page {address:#x}");
            counts.0 += usize::from(read != 0);
            counts.1 += usize::from(write != 0);
        }
        counts
    }

    #[test]
    fn address_tables_point_at_each_pages_own_bytes() {
        let mut m = Memory::new();
        assert_eq!(assert_address_tables(&m), (0, 0));
        m.map(0x10000, 0x14000, true);
        m.map(0x20000, 0x22000, false);
        m.map(0xffff_e000, 0x1_0000_0000, true);
        // Mapping touches neither table.
        assert_eq!(assert_address_tables(&m), (0, 0));
        // Initial data, rights ignored: below 0x10000 (never an entry), read-only pages,
        // an unmapped page.
        m.write_initial(0xfff0, &[1; 32]);
        m.write_initial(0x20ff0, &[2; 32]);
        m.write_initial(0x30000, &[3; 4]);
        assert_eq!(assert_address_tables(&m), (3, 1));
        // Guest writes: one that succeeds, one that straddles into an unmapped page, one to
        // a read-only page, one at the top of the address space.
        assert_eq!(m.write::<4>(0x11000, [4; 4]), Ok(()));
        assert_eq!(m.write::<8>(0x13ffc, [5; 8]), Err(AccessError::Fault(0x14000)));
        assert_eq!(m.write::<1>(0x21000, [6]), Err(AccessError::Panic));
        assert_eq!(m.write::<8>(0xffff_fff8, [7; 8]), Ok(()));
        assert_eq!(assert_address_tables(&m), (5, 3));
        // A host write across two pages.
        assert_eq!(m.write_bytes(0x12ffe, &[8; 4]), Ok(()));
        assert_eq!(assert_address_tables(&m), (7, 5));
        // Rights change on pages that hold data.
        m.map(0x11000, 0x12000, false);
        m.map(0x20000, 0x21000, true);
        assert_eq!(assert_address_tables(&m), (7, 5));
        assert_eq!(m.write::<1>(0x11000, [9]), Err(AccessError::Panic));
        assert_eq!(m.write::<1>(0x20000, [9]), Ok(()));
        // sbrk, the reference's and the Gray Paper's, then writes into what it mapped.
        (m.heap_break, m.heap_limit, m.heap_start) = (0x40800, 0x80000, 0x40000);
        assert_eq!(m.sbrk(0x1000), Some(0x40800));
        assert_eq!(assert_address_tables(&m), (7, 5));
        assert_eq!(m.write::<2>(0x41000, [10; 2]), Ok(()));
        m.semantics = Semantics::GrayPaper;
        assert_eq!(m.sbrk(0x2000), Some(0x42000));
        assert_eq!(m.write::<2>(0x43ffe, [11; 2]), Ok(()));
        assert_eq!(assert_address_tables(&m), (9, 7));
        // A copy's entries point at its own pages; writes to either stay there.
        let mut copy = m.clone();
        assert_eq!(assert_address_tables(&copy), (9, 7));
        for page in 0..PAGES {
            if copy.read_addresses.get(page) != 0 {
                assert_ne!(copy.read_addresses.get(page), m.read_addresses.get(page), "page {:#x}", page << 12);
            }
        }
        assert_eq!(copy.write::<1>(0x10000, [12]), Ok(()));
        assert_eq!(m.write::<1>(0x10001, [13]), Ok(()));
        assert_eq!((copy.read::<2>(0x10000), m.read::<2>(0x10000)), (Ok([12, 1]), Ok([1, 13])));
        assert_eq!(copy.write::<1>(0x42000, [14]), Ok(()));
        assert_eq!((copy.read::<1>(0x42000), m.read::<1>(0x42000)), (Ok([14]), Ok([0])));
        assert_eq!(assert_address_tables(&copy), (10, 8));
        assert_eq!(assert_address_tables(&m), (9, 7));
    }
}
