//! The WebAssembly front end: validation and declarations ([`module`]), the LLVM
//! declarations of a module ([`env`]), the LLVM module ([`ir`]), the translation of
//! function bodies ([`translate`]), the float routines ([`softfloat`]), the choice of
//! entry points ([`entries`]), the `memory.copy` instructions that may read the
//! arguments ([`arguments`]), the compile-time evaluation of the start function
//! ([`start_eval`]) and the split of a large module for LLVM's pipeline on several
//! threads ([`partition`]).

pub mod arguments;
pub mod entries;
pub mod env;
pub mod ir;
pub mod module;
pub mod partition;
pub mod softfloat;
pub mod start_eval;
pub mod translate;
