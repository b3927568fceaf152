//! The memory layout of a compiled program (documented in `docs/memory.md`):
//!
//! ```text
//! 0x10000                read-only data: constant LLVM globals (passive data segments,
//!                        lookup tables)
//! B = 0x20000 + Z(ro)    linear memory: initial contents in rw data, the rest heap pages;
//!                        grows upward with sbrk
//! ...                    unmapped
//! STACK_TOP - G - S      stack (S bytes), growing down from STACK_TOP - G
//! STACK_TOP - G          mutable globals (G bytes), initialised by the entry code
//! 0xFEFE0000             STACK_TOP
//! 0xFEFF0000             arguments (read-only), seen by `main` at address 0xFEFF0000 - B
//! ```

use crate::abi;
use crate::error::{CompileError, Result};
use crate::ffi::{ConstEnv, RawValue};
use inkwell::module::Module;
use inkwell::targets::TargetData;
use inkwell::values::BasicValue;
use pvm_isa::spi::{self, PAGE_SIZE, STACK_TOP, ZONE_SIZE};
use std::collections::{HashMap, HashSet};

/// WebAssembly page size.
pub const WASM_PAGE: u64 = 65536;
/// Unmapped bytes kept between the largest linear memory and the stack.
pub const STACK_GUARD: u64 = ZONE_SIZE as u64;
/// The largest stack frame a function may have. Every function touches its frame near the
/// top before it calls (the saved return address), and a mapped address bounds the
/// caller's stack pointer from below by its frame; so with frames of at most half the
/// guard no access of a caller or callee skips over the guard into linear memory: stack
/// exhaustion faults.
pub const MAX_FRAME: u64 = STACK_GUARD / 2;

/// Where everything lives.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Address of every LLVM global by name.
    pub addresses: HashMap<String, u64>,
    /// Read-only data.
    pub ro_data: Vec<u8>,
    /// The memory base `B`.
    pub memory_base: u64,
    /// Bytes of mutable globals at the top of the stack region.
    pub globals_size: u64,
    /// Non-zero initial values of mutable globals: (address, bytes).
    pub global_inits: Vec<(u64, Vec<u8>)>,
    /// Largest memory size in pages `memory.grow` may reach.
    pub max_pages: u64,
    /// Stack size in bytes (without the globals).
    pub stack_size: u32,
}

impl Layout {
    /// Whether some module uses the global `name`.
    fn used<'c>(modules: &[&Module<'c>], name: &str) -> bool {
        modules.iter().any(|m| m.get_global(name).is_some_and(|g| g.as_pointer_value().get_first_use().is_some()))
    }

    /// Lays out the globals of the optimised module, or of the parts of a split one
    /// (whose globals are the same, with external linkage: each name is laid out once,
    /// and only if some part uses it or it is one of `host_read`, which the host reads).
    /// `declared_max` is the memory's declared maximum in pages.
    /// With `capped`, the memory ends at [`abi::MEMORY_LIMIT`] at most and the stack lies
    /// above [`abi::ACCESS_LIMIT`] (what wild address traps rely on).
    pub fn new<'c>(
        modules: &[&Module<'c>],
        td: &TargetData,
        stack_size: u32,
        declared_max: Option<u64>,
        capped: bool,
        host_read: &HashSet<String>,
    ) -> Result<Self> {
        let split = modules.len() > 1;
        let mut laid_out = HashSet::new();
        let mut ro = Vec::new();
        let mut ro_data = Vec::new();
        let mut top = Vec::new();
        let mut globals_size = 0u64;
        let grows = modules.iter().any(|module| {
            module
                .get_function(&abi::Pseudo::MemoryGrow.symbol())
                .is_some_and(|f| f.as_global_value().as_pointer_value().get_first_use().is_some())
        });
        for global in modules.iter().flat_map(|module| module.get_globals()) {
            let raw = RawValue::of(&global);
            let name = raw.name();
            // The page counter needs a place only if code reads it or memory.grow (a
            // routine LLVM cannot see) writes it; LLVM removes other unused globals itself,
            // but not those of a split module, which all have external linkage.
            let unused_pages = name == abi::MEMORY_PAGES && !grows && !Self::used(modules, &name);
            let unused =
                split && name != abi::MEMORY_PAGES && !host_read.contains(&name) && !Self::used(modules, &name);
            if name == abi::MEMORY || unused_pages || unused || !laid_out.insert(name.clone()) {
                continue;
            }
            let size = raw.global_value_size(td).max(1);
            if global.is_constant() {
                let at = align(ro_data_len(&ro), 8);
                ro.push((name, at, size, raw));
                ro_data.resize((at + size) as usize, 0);
            } else {
                let at = align(globals_size, size.min(8));
                top.push((name, at, size, raw));
                globals_size = at + size;
            }
        }
        let globals_size = align(globals_size, 8);
        let ro_len = ro_data.len() as u64;
        if ro_len > u64::from(spi::MAX_E3) {
            return Err(CompileError::new(format!("{ro_len} bytes of constant data exceed the SPI limit")));
        }
        let memory_base = 2 * u64::from(ZONE_SIZE) + spi::zone_align(ro_len);
        let globals_start = u64::from(STACK_TOP) - globals_size;
        let mut addresses = HashMap::new();
        addresses.insert(abi::MEMORY.to_string(), memory_base);
        for (name, at, _, _) in &ro {
            addresses.insert(name.clone(), u64::from(ZONE_SIZE) + at);
        }
        for (name, at, _, _) in &top {
            addresses.insert(name.clone(), globals_start + at);
        }
        let lookup = |name: &str| addresses.get(name).copied();
        let env = ConstEnv { target_data: td, address_of: &lookup };
        for (name, at, size, raw) in &ro {
            let bytes = initializer(*raw, *size, &env, name)?;
            ro_data[*at as usize..(*at + *size) as usize].copy_from_slice(&bytes);
        }
        let mut global_inits = Vec::new();
        for (name, at, size, raw) in &top {
            let bytes = initializer(*raw, *size, &env, name)?;
            if bytes.iter().any(|&b| b != 0) {
                global_inits.push((globals_start + at, bytes));
            }
        }
        let spi_stack = spi::page_align(u64::from(stack_size) + globals_size);
        if spi_stack > u64::from(spi::MAX_E3) {
            return Err(CompileError::new(format!(
                "the stack ({stack_size} bytes) and the globals ({globals_size} bytes) take {spi_stack} bytes in whole pages, \
                 more than the SPI limit of {} bytes",
                spi::MAX_E3
            )));
        }
        let stack_bottom = globals_start - u64::from(stack_size);
        if stack_bottom - STACK_GUARD - memory_base < abi::ACCESS_LIMIT {
            return Err(CompileError::new("internal error: the stack reaches below the memory limit"));
        }
        let layout_max = (stack_bottom - STACK_GUARD - memory_base) / WASM_PAGE;
        let layout_max = if capped { layout_max.min(abi::MEMORY_LIMIT / WASM_PAGE) } else { layout_max };
        let max_pages = declared_max.map_or(layout_max, |m| m.min(layout_max));
        Ok(Layout { addresses, ro_data, memory_base, globals_size, global_inits, max_pages, stack_size })
    }

    /// The address of a global.
    pub fn address(&self, name: &str) -> Option<u64> {
        self.addresses.get(name).copied()
    }

    /// The SPI stack size: `stack` bytes (at most [`Layout::stack_size`]) plus the
    /// globals area, page-aligned.
    pub fn spi_stack_size(&self, stack: u32) -> u32 {
        spi::page_align(u64::from(stack.min(self.stack_size)) + self.globals_size) as u32
    }
}

fn ro_data_len(ro: &[(String, u64, u64, RawValue<'_>)]) -> u64 {
    ro.last().map_or(0, |(_, at, size, _)| at + size)
}

fn align(x: u64, to: u64) -> u64 {
    x.div_ceil(to.max(1)) * to.max(1)
}

fn initializer(raw: RawValue<'_>, size: u64, env: &ConstEnv<'_>, name: &str) -> Result<Vec<u8>> {
    match raw.initializer() {
        Some(init) => init.bytes(size, env).map_err(|e| CompileError::new(format!("initializer of {name}: {e}"))),
        None => Ok(vec![0; size as usize]),
    }
}

/// The linear memory's initial image split as SPI wants it: rw data (up to the last
/// non-zero byte) and heap pages for the rest of the initial memory.
/// The size is checked before anything is built, so a segment far up a large memory is
/// rejected at once.
pub fn memory_image(initial_pages: u64, segments: &[(u64, &[u8])]) -> Result<(Vec<u8>, u16)> {
    // One past the last non-zero byte of any segment.
    let end = segments
        .iter()
        .filter_map(|(offset, bytes)| bytes.iter().rposition(|&b| b != 0).map(|last| offset + last as u64 + 1))
        .max()
        .unwrap_or(0);
    if end > u64::from(spi::MAX_E3) {
        return Err(CompileError::new(format!(
            "the initial memory image ({end} bytes up to its last non-zero byte) exceeds the SPI limit of {} bytes",
            spi::MAX_E3
        )));
    }
    let mut image = vec![0u8; end as usize];
    for &(offset, bytes) in segments {
        // Bytes past `end` are zeros, and so is the image there.
        let start = offset.min(end) as usize;
        let len = bytes.len().min(end as usize - start);
        image[start..start + len].copy_from_slice(&bytes[..len]);
    }
    let total = initial_pages * WASM_PAGE;
    let heap = (total - spi::page_align(image.len() as u64).min(total)) / u64::from(PAGE_SIZE);
    let heap = u16::try_from(heap).map_err(|_| {
        CompileError::new(format!("an initial memory of {initial_pages} pages exceeds the SPI heap limit"))
    })?;
    Ok((image, heap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_image_trims_zeros_and_counts_heap_pages() {
        let (image, heap) = memory_image(1, &[(16, &[1, 2, 0, 0]), (4, &[0])]).unwrap();
        assert_eq!(image, vec![0; 16].into_iter().chain([1, 2]).collect::<Vec<_>>());
        assert_eq!(heap, 15);
        let (image, heap) = memory_image(2, &[]).unwrap();
        assert!(image.is_empty());
        assert_eq!(heap, 32);
        assert_eq!(memory_image(0, &[]).unwrap(), (vec![], 0));
    }

    #[test]
    fn an_image_past_the_spi_limit_is_rejected_before_it_is_built() {
        let top = (1 << 32) - 1;
        let e = memory_image(65536, &[(top, &[1]), (0, &[2])]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the initial memory image (4294967296 bytes up to its last non-zero byte) exceeds the SPI limit of 16777215 bytes"
        );
        // Zero bytes anywhere cost nothing.
        assert_eq!(memory_image(1, &[(65535, &[0]), (0, &[2])]).unwrap(), (vec![2], 15));
    }
}
