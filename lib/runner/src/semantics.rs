//! [`Semantics`]: whose rules a run follows where the Gray Paper v0.7.2 and the reference
//! implementation (anan-as) differ (pvm-spec §10). The default, [`Semantics::Reference`],
//! reproduces the reference; [`Semantics::GrayPaper`] follows the paper. Each difference
//! is decided where the concept lives — memory access and `sbrk` in [`crate::memory`],
//! basic-block starts and the decoding of non-canonical encodings in [`crate::program`],
//! the run's reported outcome (gas after out-of-gas, pc after a halt or panic, the
//! host-call index, the result) in [`crate::instance`], a blob the paper's deblob rejects
//! here — and listed in `docs/runner.md`. The engines' instruction loops are the same
//! in both.

use pvm_isa::Decoding;
use pvm_isa::blob::ProgramBlob;

/// Whose rules a run follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Semantics {
    /// The reference implementation's (anan-as 1.2.0), as its CLI reports runs.
    #[default]
    Reference,
    /// The Gray Paper v0.7.2's, as a JAM node runs a service.
    GrayPaper,
}

impl Semantics {
    /// The rules that decode encodings the assembler never produces.
    pub const fn decoding(self) -> Decoding {
        match self {
            Semantics::Reference => Decoding::Reference,
            Semantics::GrayPaper => Decoding::GrayPaper,
        }
    }

    /// Why these semantics reject a blob that decodes leniently: under the Gray Paper, a
    /// blob its deblob (eq. A.2, C.1.4) does not decompose exactly (a non-canonical length,
    /// set padding bits, trailing bytes); such a program panics before its first
    /// instruction, with no gas used. The reference accepts them all.
    pub fn deblob_error(self, blob: &ProgramBlob<'_>) -> Option<String> {
        match self {
            Semantics::Reference => None,
            Semantics::GrayPaper => {
                blob.deblob_findings().into_iter().next().map(|f| format!("offset {}: {}", f.offset, f.message))
            }
        }
    }
}
