//! The WebAssembly front end: validation and declarations ([`module`]), the LLVM
//! declarations of a module ([`env`]), the LLVM module ([`ir`]), the translation of
//! function bodies ([`translate`]), the float routines ([`softfloat`]), the choice of
//! entry points ([`entries`]) and the `memory.copy` instructions that may read the
//! arguments ([`arguments`]).

pub mod arguments;
pub mod entries;
pub mod env;
pub mod ir;
pub mod module;
pub mod softfloat;
pub mod translate;
