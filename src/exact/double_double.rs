//! Double-double accumulation of a sum of products of f64 (Ogita, Rump and
//! Oishi, "Accurate sum and dot product", 2005, algorithm Dot2): each
//! product split exactly into `p + q` by an FMA (TwoProduct), the `p`s
//! summed with their rounding errors caught exactly (TwoSum), the errors and
//! the `q`s summed plainly. The pair `(high, low)` is within about
//! `n^2 u^2 T` of the exact sum, so its f64 rounding is almost always
//! certain (see [`super::certify`]).

/// A running double-double sum of products, with the f64 sum of the
/// products' rounded absolute values in the reference's order (its `S_i`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DoubleDouble {
    /// The rounded sum of the products' high parts.
    pub(crate) high: f64,
    /// The plain sum of every rounding error: TwoSum's and TwoProduct's.
    pub(crate) low: f64,
    /// `sum |fl(term)|`, summed in order as the reference does.
    pub(crate) magnitude: f64,
}

impl DoubleDouble {
    /// Adds one term: the product of its factors (two), or a lone value.
    #[inline]
    pub(crate) fn add_term(&mut self, factors: &[f64]) {
        match *factors {
            [x, w] => self.add_product(x, w),
            [b] => self.add_value(b),
            // The two-factor ops have no other terms; a longer one would be a
            // bug of the term lists, which the certification then rejects.
            _ => self.low = f64::NAN,
        }
    }

    /// Adds `x * w` exactly split (TwoProduct by FMA).
    #[inline]
    pub(crate) fn add_product(&mut self, x: f64, w: f64) {
        let p = x * w;
        let q = x.mul_add(w, -p);
        self.magnitude += p.abs();
        self.add_split(p, q);
    }

    /// Adds a value (a bias).
    #[inline]
    pub(crate) fn add_value(&mut self, b: f64) {
        self.magnitude += b.abs();
        self.add_split(b, 0.0);
    }

    /// TwoSum of `high + p`, its error and `q` into `low`.
    #[inline]
    fn add_split(&mut self, p: f64, q: f64) {
        let s = self.high + p;
        let z = s - self.high;
        let t = (self.high - (s - z)) + (p - z);
        self.high = s;
        self.low += t + q;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_sum_keeps_its_small_term() {
        let mut d = DoubleDouble::default();
        d.add_product(2f64.powi(60), 1.0);
        d.add_product(1.0, 1.0);
        d.add_product(-(2f64.powi(60)), 1.0);
        assert_eq!(d.high + d.low, 1.0);
    }

    #[test]
    fn the_product_error_is_kept() {
        let x = 1.0 + f64::EPSILON;
        let mut d = DoubleDouble::default();
        d.add_product(x, x);
        // x^2 = 1 + 2 eps + eps^2: the eps^2 is in low.
        assert_eq!(d.low, f64::EPSILON * f64::EPSILON);
    }
}
