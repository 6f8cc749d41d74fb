//! Fast unique identifiers for request ids and W3C trace ids: a per-thread wyrand generator
//! seeded once from the OS, and table-driven hex. Not for secrets; unique with overwhelming
//! probability, which is all a request or trace id needs (W3C Trace Context §3.2.2.3 asks for
//! randomness, not unpredictability).

use std::cell::Cell;

thread_local! {
    static STATE: Cell<u64> = Cell::new(rand::random::<u64>() | 1);
}

/// The next 64 random bits of this thread's wyrand (Wang Yi's generator, as in `fastrand`).
pub fn next_u64() -> u64 {
    STATE.with(|s| {
        let x = s.get().wrapping_add(0xa076_1d64_78bd_642f);
        s.set(x);
        let t = u128::from(x) * u128::from(x ^ 0xe703_7ed1_a0b4_28db);
        // Folding the 128-bit product into 64 bits is the generator's output step.
        #[allow(clippy::cast_possible_truncation)]
        let folded = (t as u64) ^ ((t >> 64) as u64);
        folded
    })
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Write `v` as 16 lower-case hex digits.
pub fn hex_u64(v: u64, out: &mut [u8; 16]) {
    for (i, byte) in v.to_be_bytes().iter().enumerate() {
        out[2 * i] = HEX[usize::from(byte >> 4)];
        out[2 * i + 1] = HEX[usize::from(byte & 0xf)];
    }
}

/// 128 random bits as 32 hex digits.
pub fn hex128() -> [u8; 32] {
    let mut out = [0u8; 32];
    let (a, b) = out.split_at_mut(16);
    let (mut x, mut y) = ([0u8; 16], [0u8; 16]);
    hex_u64(next_u64(), &mut x);
    hex_u64(next_u64(), &mut y);
    a.copy_from_slice(&x);
    b.copy_from_slice(&y);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_and_fixed_width() {
        let mut out = [0u8; 16];
        hex_u64(0x00ab_0001_fe00_0010, &mut out);
        assert_eq!(&out, b"00ab0001fe000010");
    }

    #[test]
    fn ids_do_not_repeat() {
        let ids: std::collections::HashSet<[u8; 32]> = (0..10_000).map(|_| hex128()).collect();
        assert_eq!(ids.len(), 10_000);
    }
}
