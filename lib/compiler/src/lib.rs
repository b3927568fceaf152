//! WebAssembly to PVM compiler.
