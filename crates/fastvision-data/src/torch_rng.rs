//! PyTorch's CPU generator (MT19937) and `torch.randperm`, so `RandomSplitter(seed)` gives fastai's very split.

/// `torch.manual_seed(seed); torch.randperm(n)` on the CPU, for `n` below 2^32 / 20 (torch's small-n path).
pub(crate) fn torch_randperm(n: usize, seed: u64) -> Vec<usize> {
    let mut mt = Mt19937::new(seed as u32);
    let mut perm: Vec<usize> = (0..n).collect();
    // torch/aten randperm_cpu: `z = generator->random() % (n - i); swap(r[i], r[z + i])`.
    for i in 0..n.saturating_sub(1) {
        let z = mt.next_u32() as usize % (n - i);
        perm.swap(i, z + i);
    }
    perm
}

/// The 32-bit Mersenne Twister with the standard `init_genrand` seeding (as `std::mt19937` and torch use).
struct Mt19937 {
    state: [u32; 624],
    index: usize,
}

impl Mt19937 {
    fn new(seed: u32) -> Self {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            state[i] = 1_812_433_253u32.wrapping_mul(state[i - 1] ^ (state[i - 1] >> 30)).wrapping_add(i as u32);
        }
        Self { state, index: 624 }
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9D2C_5680;
        y ^= (y << 15) & 0xEFC6_0000;
        y ^ (y >> 18)
    }

    fn twist(&mut self) {
        for i in 0..624 {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % 624] & 0x7FFF_FFFF);
            let mut next = self.state[(i + 397) % 624] ^ (y >> 1);
            if y & 1 != 0 {
                next ^= 0x9908_B0DF;
            }
            self.state[i] = next;
        }
        self.index = 0;
    }
}
