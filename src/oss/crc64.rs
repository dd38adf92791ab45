//! CRC-64/XZ (ECMA-182, reflected, init and xorout all ones): the `x-oss-hash-crc64ecma` OSS
//! answers and the SDKs check. `crc64fast` computes it over bytes (beside MD5 in `objects`); a multipart object's CRC is
//! combined from its parts' CRCs and lengths, as the SDKs combine it to check Complete.

/// The reflected polynomial.
const POLY: u64 = 0xC96C_5795_D787_0F42;

/// The CRC of `a` followed by `b`, from `crc(a)`, `crc(b)` and `b`'s length: zlib's
/// `crc32_combine` for 64 bits (appending `len_b` zero bytes is a linear map, applied by
/// repeated squaring of its matrix over GF(2)).
pub fn combine(crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
    if len_b == 0 {
        return crc_a;
    }
    // The operator appending one zero bit, squared three times: one zero byte.
    let mut op = [0u64; 64];
    op[0] = POLY;
    for (n, row) in op.iter_mut().enumerate().skip(1) {
        *row = 1 << (n - 1);
    }
    for _ in 0..3 {
        op = square(&op);
    }
    // Then 2^k zero bytes for each bit k of the length.
    let (mut crc, mut len) = (crc_a, len_b);
    while len != 0 {
        if len & 1 != 0 {
            crc = times(&op, crc);
        }
        len >>= 1;
        if len != 0 {
            op = square(&op);
        }
    }
    crc ^ crc_b
}

fn times(matrix: &[u64; 64], mut vector: u64) -> u64 {
    let mut sum = 0;
    let mut row = 0;
    while vector != 0 {
        if vector & 1 != 0 {
            sum ^= matrix[row];
        }
        vector >>= 1;
        row += 1;
    }
    sum
}

fn square(matrix: &[u64; 64]) -> [u64; 64] {
    std::array::from_fn(|n| times(matrix, matrix[n]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn of(bytes: &[u8]) -> u64 {
        let mut digest = crc64fast::Digest::new();
        digest.write(bytes);
        digest.sum64()
    }

    #[test]
    fn check_value_of_crc64_xz() {
        // The reference's check value (shared/reference/api-upload-oss.md).
        assert_eq!(of(b"123456789"), 11_051_210_869_376_104_954);
        assert_eq!(of(b""), 0);
    }

    proptest! {
        #[test]
        fn combining_equals_hashing_the_concatenation(
            a in proptest::collection::vec(any::<u8>(), 0..3000),
            b in proptest::collection::vec(any::<u8>(), 0..3000),
        ) {
            let whole = [a.as_slice(), b.as_slice()].concat();
            prop_assert_eq!(combine(of(&a), of(&b), b.len() as u64), of(&whole));
        }
    }
}
