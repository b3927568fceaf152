//! The PVM instruction set (Gray Paper v0.7.2, Appendix A.5) as ONE table: opcode number,
//! mnemonic, operand format and whether the instruction ends a basic block. Decoding,
//! encoding, disassembly, assembly, the runner and the compiler's emitter all derive from
//! it; no other list of opcodes exists.

use crate::format::Format;

macro_rules! instruction_table {
    ($( $code:literal $name:ident $mnemonic:literal $format:ident $kind:ident; )*) => {
        /// A PVM opcode. The discriminant is the opcode byte.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Opcode {
            $(
                #[doc = concat!("`", $mnemonic, "` (opcode ", stringify!($code), ")")]
                $name = $code,
            )*
        }

        impl Opcode {
            /// Every opcode, in numeric order.
            pub const ALL: &'static [Opcode] = &[$(Opcode::$name),*];

            /// The opcode with byte value `byte`, if it is assigned.
            pub const fn from_u8(byte: u8) -> Option<Opcode> {
                match byte {
                    $($code => Some(Opcode::$name),)*
                    _ => None,
                }
            }

            /// The Gray Paper mnemonic, in lower case.
            pub const fn mnemonic(self) -> &'static str {
                match self {
                    $(Opcode::$name => $mnemonic,)*
                }
            }

            /// The operand format.
            pub const fn format(self) -> Format {
                match self {
                    $(Opcode::$name => Format::$format,)*
                }
            }

            /// Whether the instruction ends a basic block (the Gray Paper's set T).
            pub const fn is_terminator(self) -> bool {
                match self {
                    $(Opcode::$name => instruction_table!(@terminator $kind),)*
                }
            }
        }
    };
    (@terminator term) => { true };
    (@terminator cont) => { false };
}

instruction_table! {
    // A.5.1 — no arguments
    0 Trap "trap" NoArgs term;
    1 Fallthrough "fallthrough" NoArgs term;
    // A.5.2 — one immediate
    10 Ecalli "ecalli" Imm cont;
    // A.5.3 — one register and one extended-width immediate
    20 LoadImm64 "load_imm_64" RegImm64 cont;
    // A.5.4 — two immediates
    30 StoreImmU8 "store_imm_u8" ImmImm cont;
    31 StoreImmU16 "store_imm_u16" ImmImm cont;
    32 StoreImmU32 "store_imm_u32" ImmImm cont;
    33 StoreImmU64 "store_imm_u64" ImmImm cont;
    // A.5.5 — one offset
    40 Jump "jump" Offset term;
    // A.5.6 — one register and one immediate
    50 JumpInd "jump_ind" RegImm term;
    51 LoadImm "load_imm" RegImm cont;
    52 LoadU8 "load_u8" RegImm cont;
    53 LoadI8 "load_i8" RegImm cont;
    54 LoadU16 "load_u16" RegImm cont;
    55 LoadI16 "load_i16" RegImm cont;
    56 LoadU32 "load_u32" RegImm cont;
    57 LoadI32 "load_i32" RegImm cont;
    58 LoadU64 "load_u64" RegImm cont;
    59 StoreU8 "store_u8" RegImm cont;
    60 StoreU16 "store_u16" RegImm cont;
    61 StoreU32 "store_u32" RegImm cont;
    62 StoreU64 "store_u64" RegImm cont;
    // A.5.7 — one register and two immediates
    70 StoreImmIndU8 "store_imm_ind_u8" RegImmImm cont;
    71 StoreImmIndU16 "store_imm_ind_u16" RegImmImm cont;
    72 StoreImmIndU32 "store_imm_ind_u32" RegImmImm cont;
    73 StoreImmIndU64 "store_imm_ind_u64" RegImmImm cont;
    // A.5.8 — one register, one immediate and one offset
    80 LoadImmJump "load_imm_jump" RegImmOffset term;
    81 BranchEqImm "branch_eq_imm" RegImmOffset term;
    82 BranchNeImm "branch_ne_imm" RegImmOffset term;
    83 BranchLtUImm "branch_lt_u_imm" RegImmOffset term;
    84 BranchLeUImm "branch_le_u_imm" RegImmOffset term;
    85 BranchGeUImm "branch_ge_u_imm" RegImmOffset term;
    86 BranchGtUImm "branch_gt_u_imm" RegImmOffset term;
    87 BranchLtSImm "branch_lt_s_imm" RegImmOffset term;
    88 BranchLeSImm "branch_le_s_imm" RegImmOffset term;
    89 BranchGeSImm "branch_ge_s_imm" RegImmOffset term;
    90 BranchGtSImm "branch_gt_s_imm" RegImmOffset term;
    // A.5.9 — two registers
    100 MoveReg "move_reg" RegReg cont;
    101 Sbrk "sbrk" RegReg cont;
    102 CountSetBits64 "count_set_bits_64" RegReg cont;
    103 CountSetBits32 "count_set_bits_32" RegReg cont;
    104 LeadingZeroBits64 "leading_zero_bits_64" RegReg cont;
    105 LeadingZeroBits32 "leading_zero_bits_32" RegReg cont;
    106 TrailingZeroBits64 "trailing_zero_bits_64" RegReg cont;
    107 TrailingZeroBits32 "trailing_zero_bits_32" RegReg cont;
    108 SignExtend8 "sign_extend_8" RegReg cont;
    109 SignExtend16 "sign_extend_16" RegReg cont;
    110 ZeroExtend16 "zero_extend_16" RegReg cont;
    111 ReverseBytes "reverse_bytes" RegReg cont;
    // A.5.10 — two registers and one immediate
    120 StoreIndU8 "store_ind_u8" RegRegImm cont;
    121 StoreIndU16 "store_ind_u16" RegRegImm cont;
    122 StoreIndU32 "store_ind_u32" RegRegImm cont;
    123 StoreIndU64 "store_ind_u64" RegRegImm cont;
    124 LoadIndU8 "load_ind_u8" RegRegImm cont;
    125 LoadIndI8 "load_ind_i8" RegRegImm cont;
    126 LoadIndU16 "load_ind_u16" RegRegImm cont;
    127 LoadIndI16 "load_ind_i16" RegRegImm cont;
    128 LoadIndU32 "load_ind_u32" RegRegImm cont;
    129 LoadIndI32 "load_ind_i32" RegRegImm cont;
    130 LoadIndU64 "load_ind_u64" RegRegImm cont;
    131 AddImm32 "add_imm_32" RegRegImm cont;
    132 AndImm "and_imm" RegRegImm cont;
    133 XorImm "xor_imm" RegRegImm cont;
    134 OrImm "or_imm" RegRegImm cont;
    135 MulImm32 "mul_imm_32" RegRegImm cont;
    136 SetLtUImm "set_lt_u_imm" RegRegImm cont;
    137 SetLtSImm "set_lt_s_imm" RegRegImm cont;
    138 ShloLImm32 "shlo_l_imm_32" RegRegImm cont;
    139 ShloRImm32 "shlo_r_imm_32" RegRegImm cont;
    140 SharRImm32 "shar_r_imm_32" RegRegImm cont;
    141 NegAddImm32 "neg_add_imm_32" RegRegImm cont;
    142 SetGtUImm "set_gt_u_imm" RegRegImm cont;
    143 SetGtSImm "set_gt_s_imm" RegRegImm cont;
    144 ShloLImmAlt32 "shlo_l_imm_alt_32" RegRegImm cont;
    145 ShloRImmAlt32 "shlo_r_imm_alt_32" RegRegImm cont;
    146 SharRImmAlt32 "shar_r_imm_alt_32" RegRegImm cont;
    147 CmovIzImm "cmov_iz_imm" RegRegImm cont;
    148 CmovNzImm "cmov_nz_imm" RegRegImm cont;
    149 AddImm64 "add_imm_64" RegRegImm cont;
    150 MulImm64 "mul_imm_64" RegRegImm cont;
    151 ShloLImm64 "shlo_l_imm_64" RegRegImm cont;
    152 ShloRImm64 "shlo_r_imm_64" RegRegImm cont;
    153 SharRImm64 "shar_r_imm_64" RegRegImm cont;
    154 NegAddImm64 "neg_add_imm_64" RegRegImm cont;
    155 ShloLImmAlt64 "shlo_l_imm_alt_64" RegRegImm cont;
    156 ShloRImmAlt64 "shlo_r_imm_alt_64" RegRegImm cont;
    157 SharRImmAlt64 "shar_r_imm_alt_64" RegRegImm cont;
    158 RotR64Imm "rot_r_64_imm" RegRegImm cont;
    159 RotR64ImmAlt "rot_r_64_imm_alt" RegRegImm cont;
    160 RotR32Imm "rot_r_32_imm" RegRegImm cont;
    161 RotR32ImmAlt "rot_r_32_imm_alt" RegRegImm cont;
    // A.5.11 — two registers and one offset
    170 BranchEq "branch_eq" RegRegOffset term;
    171 BranchNe "branch_ne" RegRegOffset term;
    172 BranchLtU "branch_lt_u" RegRegOffset term;
    173 BranchLtS "branch_lt_s" RegRegOffset term;
    174 BranchGeU "branch_ge_u" RegRegOffset term;
    175 BranchGeS "branch_ge_s" RegRegOffset term;
    // A.5.12 — two registers and two immediates
    180 LoadImmJumpInd "load_imm_jump_ind" RegRegImmImm term;
    // A.5.13 — three registers
    190 Add32 "add_32" RegRegReg cont;
    191 Sub32 "sub_32" RegRegReg cont;
    192 Mul32 "mul_32" RegRegReg cont;
    193 DivU32 "div_u_32" RegRegReg cont;
    194 DivS32 "div_s_32" RegRegReg cont;
    195 RemU32 "rem_u_32" RegRegReg cont;
    196 RemS32 "rem_s_32" RegRegReg cont;
    197 ShloL32 "shlo_l_32" RegRegReg cont;
    198 ShloR32 "shlo_r_32" RegRegReg cont;
    199 SharR32 "shar_r_32" RegRegReg cont;
    200 Add64 "add_64" RegRegReg cont;
    201 Sub64 "sub_64" RegRegReg cont;
    202 Mul64 "mul_64" RegRegReg cont;
    203 DivU64 "div_u_64" RegRegReg cont;
    204 DivS64 "div_s_64" RegRegReg cont;
    205 RemU64 "rem_u_64" RegRegReg cont;
    206 RemS64 "rem_s_64" RegRegReg cont;
    207 ShloL64 "shlo_l_64" RegRegReg cont;
    208 ShloR64 "shlo_r_64" RegRegReg cont;
    209 SharR64 "shar_r_64" RegRegReg cont;
    210 And "and" RegRegReg cont;
    211 Xor "xor" RegRegReg cont;
    212 Or "or" RegRegReg cont;
    213 MulUpperSS "mul_upper_s_s" RegRegReg cont;
    214 MulUpperUU "mul_upper_u_u" RegRegReg cont;
    215 MulUpperSU "mul_upper_s_u" RegRegReg cont;
    216 SetLtU "set_lt_u" RegRegReg cont;
    217 SetLtS "set_lt_s" RegRegReg cont;
    218 CmovIz "cmov_iz" RegRegReg cont;
    219 CmovNz "cmov_nz" RegRegReg cont;
    220 RotL64 "rot_l_64" RegRegReg cont;
    221 RotL32 "rot_l_32" RegRegReg cont;
    222 RotR64 "rot_r_64" RegRegReg cont;
    223 RotR32 "rot_r_32" RegRegReg cont;
    224 AndInv "and_inv" RegRegReg cont;
    225 OrInv "or_inv" RegRegReg cont;
    226 Xnor "xnor" RegRegReg cont;
    227 Max "max" RegRegReg cont;
    228 MaxU "max_u" RegRegReg cont;
    229 Min "min" RegRegReg cont;
    230 MinU "min_u" RegRegReg cont;
}

impl Opcode {
    /// The opcode with this mnemonic (lower case, as the Gray Paper spells it).
    pub fn from_mnemonic(mnemonic: &str) -> Option<Opcode> {
        Opcode::ALL.iter().copied().find(|op| op.mnemonic() == mnemonic)
    }
}

impl std::fmt::Display for Opcode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.mnemonic())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_complete_and_consistent() {
        assert_eq!(Opcode::ALL.len(), 139);
        let terminators = Opcode::ALL.iter().filter(|op| op.is_terminator()).count();
        assert_eq!(terminators, 22);
        for &op in Opcode::ALL {
            assert_eq!(Opcode::from_u8(op as u8), Some(op));
            assert_eq!(Opcode::from_mnemonic(op.mnemonic()), Some(op));
        }
        let assigned = (0..=255u8).filter(|&b| Opcode::from_u8(b).is_some()).count();
        assert_eq!(assigned, 139);
        for unassigned in [2u8, 11, 34, 63, 112, 162, 231, 255] {
            assert_eq!(Opcode::from_u8(unassigned), None);
        }
    }
}
