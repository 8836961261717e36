//! Drawing numbers from the fuzzer's bytes: small values most of the time,
//! the extremes (0, 2^31, 2^62, usize::MAX, i64::MIN, NaN, inf, f32::MAX,
//! subnormals) often enough that every size check and the non-finite
//! policy are exercised. Past the end of the bytes every draw is 0.

/// A cursor over the fuzzer's bytes.
pub struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

/// Sizes at and around the integer limits.
const EXTREME_SIZES: [usize; 12] = [
    0,
    1 << 20,
    1 << 31,
    1 << 32,
    1 << 40,
    1 << 61,
    1 << 62,
    (1 << 62) + 1,
    i64::MAX as usize,
    1 << 63,
    usize::MAX - 1,
    usize::MAX,
];

/// Paddings at the limits of i64.
const EXTREME_PADDINGS: [i64; 8] = [
    i64::MIN,
    i64::MIN + 1,
    -(1 << 62),
    -(1 << 40),
    1 << 40,
    1 << 62,
    i64::MAX - 1,
    i64::MAX,
];

/// Special element values.
const SPECIAL_VALUES: [f64; 12] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f32::MAX as f64,
    -(f32::MAX as f64),
    f64::MAX,
    f64::MIN_POSITIVE,
    1e-45, // the smallest f32 subnormal, rounded
    5e-324,
    -0.0,
    0.0,
    0.5,
];

impl<'a> Bytes<'a> {
    /// A cursor at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data, pos: 0 }
    }

    /// The next byte (0 past the end).
    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// True or false.
    pub fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// A number in `0..n` (`n` >= 1).
    pub fn below(&mut self, n: u64) -> u64 {
        let v = u64::from_le_bytes([self.byte(), self.byte(), 0, 0, 0, 0, 0, 0]);
        v % n.max(1)
    }

    /// A tensor dim for shape-only checks: tiny mostly, sometimes extreme.
    pub fn dim(&mut self) -> usize {
        match self.byte() {
            b @ 0..=199 => (b % 6) as usize,
            b => EXTREME_SIZES[b as usize % EXTREME_SIZES.len()],
        }
    }

    /// A stride, dilation, group count or size parameter: 1..=4 mostly,
    /// sometimes 0 or extreme.
    pub fn param(&mut self) -> usize {
        match self.byte() {
            b @ 0..=219 => 1 + (b % 4) as usize,
            b => EXTREME_SIZES[b as usize % EXTREME_SIZES.len()],
        }
    }

    /// A padding amount: -2..=3 mostly, sometimes extreme.
    pub fn padding(&mut self) -> i64 {
        match self.byte() {
            b @ 0..=219 => (b % 6) as i64 - 2,
            b => EXTREME_PADDINGS[b as usize % EXTREME_PADDINGS.len()],
        }
    }

    /// An element value: small integers and halves, raw f32 bits, or a
    /// special value.
    pub fn value(&mut self) -> f64 {
        match self.byte() {
            b @ 0..=159 => (b % 9) as f64 / 2.0 - 2.0,
            160..=219 => {
                let bits = u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()]);
                f64::from(f32::from_bits(bits))
            }
            b => SPECIAL_VALUES[b as usize % SPECIAL_VALUES.len()],
        }
    }
}
