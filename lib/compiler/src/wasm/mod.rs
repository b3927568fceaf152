//! The WebAssembly front end: validation and declarations ([`module`]), the LLVM module
//! ([`ir`]) and the translation of function bodies ([`translate`]).

pub mod ir;
pub mod module;
pub mod translate;
