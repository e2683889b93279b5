//! XXH64 (Yann Collet's xxHash, 64-bit variant), streaming: the checksum of code-cache
//! entries (`cache_entry.rs`). It detects accidental damage (a truncated or partly written
//! file, a flipped bit) at memory speed: hashing the 60 MB entry of @swc/wasm takes a few
//! milliseconds where SHA-256 took tens. It is not a defence against someone who can write
//! the cache directory: that directory is the user's own (0700), and whoever can write it
//! can already run code as the user.
#![forbid(unsafe_code)]

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

/// An XXH64 hash (seed 0) being computed over bytes given in any number of pieces.
pub(crate) struct Checksum {
    lanes: [u64; 4],
    /// Bytes not yet consumed as a whole 32-byte stripe.
    pending: [u8; 32],
    pending_len: usize,
    total_len: u64,
}

fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2)).rotate_left(31).wrapping_mul(P1)
}

fn merge_round(acc: u64, lane: u64) -> u64 {
    (acc ^ round(0, lane)).wrapping_mul(P1).wrapping_add(P4)
}

fn read_u64(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"))
}

impl Checksum {
    pub fn new() -> Checksum {
        Checksum {
            lanes: [P1.wrapping_add(P2), P2, 0, 0u64.wrapping_sub(P1)],
            pending: [0; 32],
            pending_len: 0,
            total_len: 0,
        }
    }

    fn stripe(&mut self, stripe: &[u8]) {
        for (i, lane) in self.lanes.iter_mut().enumerate() {
            *lane = round(*lane, read_u64(&stripe[i * 8..]));
        }
    }

    /// Adds `data` to the hashed bytes.
    pub fn update(&mut self, mut data: &[u8]) {
        self.total_len += data.len() as u64;
        if self.pending_len > 0 {
            let take = (32 - self.pending_len).min(data.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&data[..take]);
            self.pending_len += take;
            data = &data[take..];
            if self.pending_len < 32 {
                return;
            }
            let stripe = self.pending;
            self.stripe(&stripe);
            self.pending_len = 0;
        }
        let mut stripes = data.chunks_exact(32);
        for stripe in &mut stripes {
            self.stripe(stripe);
        }
        let rest = stripes.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
    }

    /// The hash of every byte given to `update`.
    pub fn finish(&self) -> u64 {
        let [v1, v2, v3, v4] = self.lanes;
        let mut hash = if self.total_len >= 32 {
            let mut h = v1
                .rotate_left(1)
                .wrapping_add(v2.rotate_left(7))
                .wrapping_add(v3.rotate_left(12))
                .wrapping_add(v4.rotate_left(18));
            for lane in self.lanes {
                h = merge_round(h, lane);
            }
            h
        } else {
            P5
        };
        hash = hash.wrapping_add(self.total_len);
        let mut rest = &self.pending[..self.pending_len];
        while rest.len() >= 8 {
            hash = (hash ^ round(0, read_u64(rest))).rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
            rest = &rest[8..];
        }
        if rest.len() >= 4 {
            let word = u64::from(u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")));
            hash = (hash ^ word.wrapping_mul(P1)).rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
            rest = &rest[4..];
        }
        for &byte in rest {
            hash = (hash ^ u64::from(byte).wrapping_mul(P5)).rotate_left(11).wrapping_mul(P1);
        }
        hash ^= hash >> 33;
        hash = hash.wrapping_mul(P2);
        hash ^= hash >> 29;
        hash = hash.wrapping_mul(P3);
        hash ^ (hash >> 32)
    }
}

/// The XXH64 of `data`.
#[cfg(test)]
pub(crate) fn checksum(data: &[u8]) -> u64 {
    let mut hasher = Checksum::new();
    hasher.update(data);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_reference_values() {
        // From the xxHash reference implementation (`xxhsum -H1`).
        assert_eq!(checksum(b""), 0xEF46_DB37_51D8_E999);
        assert_eq!(checksum(b"a"), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(checksum(b"abc"), 0x44BC_2CF5_AD77_0999);
    }

    #[test]
    fn pieces_hash_as_the_whole() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let whole = checksum(&data);
        for split in [0, 1, 5, 31, 32, 33, 64, 100, 999, 1000] {
            for second in [0, 3, 40] {
                let second = (split + second).min(data.len());
                let mut hasher = Checksum::new();
                hasher.update(&data[..split]);
                hasher.update(&data[split..second]);
                hasher.update(&data[second..]);
                assert_eq!(hasher.finish(), whole, "split at {split} and {second}");
            }
        }
        assert_ne!(checksum(&data[..999]), whole);
    }
}
