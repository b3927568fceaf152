//! The WebAssembly front end: validation and declarations ([`module`]), the LLVM
//! declarations of a module ([`env`]), the LLVM module ([`ir`]) and the translation of
//! function bodies ([`translate`]).

pub mod env;
pub mod ir;
pub mod module;
pub mod translate;
