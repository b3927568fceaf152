//! The standard program initialisation (Gray Paper A.7, eqs. A.37–A.43): the SPI
//! container, the memory layout it implies, the initial registers, and the `.jam`
//! metadata prefix (GP §9.1 eq. 9.4) that service code carries before the container.

use crate::codec::{Reader, encode_varint, write_le};
use crate::error::{DecodeError, DecodeErrorKind};
use std::ops::Range;

/// Page size `Z_P`.
pub const PAGE_SIZE: u32 = 1 << 12;
/// Zone size `Z_Z`.
pub const ZONE_SIZE: u32 = 1 << 16;
/// Largest argument blob `Z_I`.
pub const MAX_ARGS: u32 = 1 << 24;
/// The address whose dynamic jump halts the machine (GP eq. A.18), initial `r0`.
pub const HALT_ADDRESS: u32 = 0xffff_0000;
/// Top of the SPI stack, initial `r1`.
pub const STACK_TOP: u32 = 0xfefe_0000;
/// Start of the argument area, initial `r7`.
pub const ARGS_START: u32 = 0xfeff_0000;
/// Largest value of the 3-byte length fields.
pub const MAX_E3: u32 = (1 << 24) - 1;

/// `P(x)`: round up to a whole number of pages.
pub const fn page_align(x: u64) -> u64 {
    x.div_ceil(PAGE_SIZE as u64) * PAGE_SIZE as u64
}

/// `Z(x)`: round up to a whole number of zones.
pub const fn zone_align(x: u64) -> u64 {
    x.div_ceil(ZONE_SIZE as u64) * ZONE_SIZE as u64
}

/// An SPI container borrowed from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spi<'a> {
    /// Read-only data `o`.
    pub ro_data: &'a [u8],
    /// Read-write data `w`.
    pub rw_data: &'a [u8],
    /// Zero-filled heap pages after the rw data (`z`).
    pub heap_pages: u16,
    /// Stack size in bytes (`s`).
    pub stack_size: u32,
    /// The program blob `c`.
    pub blob: &'a [u8],
    /// File offset of the blob.
    pub blob_offset: usize,
}

impl<'a> Spi<'a> {
    /// Parses a container that must span `bytes` exactly; `base` is its file offset.
    pub fn parse(bytes: &'a [u8], base: usize) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes, base);
        let ro_len = r.fixed(3, "read-only data length")?;
        let rw_len = r.fixed(3, "read-write data length")?;
        let heap_pages = r.fixed(2, "heap page count")? as u16;
        let stack_size = r.fixed(3, "stack size")? as u32;
        let ro_data = r.bytes(ro_len as usize, "read-only data")?;
        let rw_data = r.bytes(rw_len as usize, "read-write data")?;
        let blob_len = r.fixed(4, "code blob length")?;
        let blob_offset = r.offset();
        let blob = r.bytes(blob_len as usize, "code blob")?;
        r.finish("the SPI container")?;
        Ok(Spi { ro_data, rw_data, heap_pages, stack_size, blob, blob_offset })
    }

    /// The memory layout this container gives with `args_len` bytes of arguments.
    pub fn layout(&self, args_len: usize) -> SpiLayout {
        SpiLayout::new(
            self.ro_data.len() as u32,
            self.rw_data.len() as u32,
            self.heap_pages,
            self.stack_size,
            args_len as u32,
        )
    }
}

/// Why an SPI container cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpiBuildError {
    /// A part is larger than its length field allows.
    #[error("{what} is {len} bytes; the SPI container allows at most {max}")]
    TooLarge {
        /// The part.
        what: &'static str,
        /// Its length.
        len: u64,
        /// The limit.
        max: u64,
    },
}

/// Serialises an SPI container.
pub fn build_spi(
    ro_data: &[u8],
    rw_data: &[u8],
    heap_pages: u16,
    stack_size: u32,
    blob: &[u8],
) -> Result<Vec<u8>, SpiBuildError> {
    let check = |what, len: usize, max: u64| {
        if len as u64 > max { Err(SpiBuildError::TooLarge { what, len: len as u64, max }) } else { Ok(()) }
    };
    check("read-only data", ro_data.len(), MAX_E3.into())?;
    check("read-write data", rw_data.len(), MAX_E3.into())?;
    check("stack size", stack_size as usize, MAX_E3.into())?;
    check("code blob", blob.len(), u32::MAX.into())?;
    let mut out = Vec::with_capacity(15 + ro_data.len() + rw_data.len() + blob.len());
    write_le(ro_data.len() as u64, 3, &mut out);
    write_le(rw_data.len() as u64, 3, &mut out);
    write_le(heap_pages.into(), 2, &mut out);
    write_le(stack_size.into(), 3, &mut out);
    out.extend_from_slice(ro_data);
    out.extend_from_slice(rw_data);
    write_le(blob.len() as u64, 4, &mut out);
    out.extend_from_slice(blob);
    Ok(out)
}

/// Splits a `.jam` file into its metadata and the SPI container after it.
/// Returns the metadata, the rest, and the file offset of the rest.
pub fn split_metadata(bytes: &[u8]) -> Result<(&[u8], &[u8], usize), DecodeError> {
    let mut r = Reader::new(bytes, 0);
    let len = r.varint("metadata length")?;
    let len = usize::try_from(len).map_err(|_| {
        DecodeError::new(0, DecodeErrorKind::PastEnd { what: "metadata", needed: len, available: bytes.len() as u64 })
    })?;
    let metadata = r.bytes(len, "metadata")?;
    let at = r.offset();
    Ok((metadata, r.remaining(), at))
}

/// Prepends the metadata prefix to a container.
pub fn with_metadata(metadata: &[u8], container: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + metadata.len() + container.len());
    encode_varint(metadata.len() as u64, &mut out);
    out.extend_from_slice(metadata);
    out.extend_from_slice(container);
    out
}

/// Access rights of a mapped region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Readable only.
    ReadOnly,
    /// Readable and writable.
    ReadWrite,
}

/// The memory layout of GP eq. A.42. The validity condition of eq. A.41 always holds for
/// sizes that fit the container's length fields (at most about 320 MiB in all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpiLayout {
    /// Read-only data pages (data, then zero padding).
    pub ro: Range<u64>,
    /// Read-write pages: rw data, then zeros up to the end of the heap.
    pub rw: Range<u64>,
    /// Stack pages.
    pub stack: Range<u64>,
    /// Argument pages.
    pub args: Range<u64>,
}

impl SpiLayout {
    /// The layout for the given section sizes.
    pub fn new(ro_len: u32, rw_len: u32, heap_pages: u16, stack_size: u32, args_len: u32) -> Self {
        let (zz, zi) = (u64::from(ZONE_SIZE), u64::from(MAX_ARGS));
        let (ro_len, rw_len, stack, args_len) =
            (u64::from(ro_len), u64::from(rw_len), u64::from(stack_size), u64::from(args_len));
        let heap = u64::from(heap_pages) * u64::from(PAGE_SIZE);
        let rw_start = 2 * zz + zone_align(ro_len);
        let stack_top = (1u64 << 32) - 2 * zz - zi;
        let args_start = (1u64 << 32) - zz - zi;
        SpiLayout {
            ro: zz..zz + page_align(ro_len),
            rw: rw_start..rw_start + page_align(rw_len) + heap,
            stack: stack_top - page_align(stack)..stack_top,
            args: args_start..args_start + page_align(args_len),
        }
    }

    /// The mapped regions in ascending address order with their access rights.
    pub fn regions(&self) -> [(Range<u64>, Access); 4] {
        [
            (self.ro.clone(), Access::ReadOnly),
            (self.rw.clone(), Access::ReadWrite),
            (self.stack.clone(), Access::ReadWrite),
            (self.args.clone(), Access::ReadOnly),
        ]
    }

    /// The initial registers (GP eq. A.43) for `args_len` bytes of arguments.
    pub fn initial_registers(args_len: u32) -> [u64; 13] {
        let mut regs = [0u64; 13];
        regs[0] = HALT_ADDRESS.into();
        regs[1] = STACK_TOP.into();
        regs[7] = ARGS_START.into();
        regs[8] = args_len.into();
        regs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::encode as hex;

    #[test]
    fn trap_program_round_trip() {
        let blob = [0x00, 0x00, 0x01, 0x00, 0x01];
        let spi = build_spi(&[], &[], 0, 0, &blob).unwrap();
        let jam = with_metadata(&[], &spi);
        assert_eq!(hex(&jam), "000000000000000000000000050000000000010001");
        let (metadata, rest, at) = split_metadata(&jam).unwrap();
        assert!(metadata.is_empty());
        assert_eq!(at, 1);
        let parsed = Spi::parse(rest, at).unwrap();
        assert_eq!(parsed.blob, &blob);
        assert_eq!(parsed.blob_offset, 16);
    }

    #[test]
    fn truncations_and_trailing_bytes_are_errors() {
        let spi = build_spi(&[1, 2, 3], &[4], 2, 4096, &[0, 0, 1, 0, 1]).unwrap();
        for cut in 0..spi.len() {
            assert!(Spi::parse(&spi[..cut], 0).is_err());
        }
        let mut extra = spi.clone();
        extra.push(0);
        assert_eq!(
            Spi::parse(&extra, 1).unwrap_err().to_string(),
            format!("offset {:#x}: 1 trailing bytes after the SPI container", spi.len() + 1)
        );
    }

    #[test]
    fn layout_matches_the_gray_paper() {
        let layout = SpiLayout::new(3, 5000, 2, 100, 10);
        assert_eq!(layout.ro, 0x10000..0x11000);
        assert_eq!(layout.rw, 0x30000..0x30000 + 0x2000 + 0x2000);
        assert_eq!(layout.stack, 0xfefd_f000..0xfefe_0000);
        assert_eq!(layout.args, 0xfeff_0000..0xfeff_1000);
        let regs = SpiLayout::initial_registers(10);
        assert_eq!(regs[0], 0xffff_0000);
        assert_eq!(regs[1], 0xfefe_0000);
        assert_eq!(regs[7], 0xfeff_0000);
        assert_eq!(regs[8], 10);
    }
}
