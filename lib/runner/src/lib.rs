//! An exact, fast PVM interpreter.
