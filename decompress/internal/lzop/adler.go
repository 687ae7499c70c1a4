package lzop

// Adler-32 (RFC 1950), about three times as fast as hash/adler32: the
// bytes are summed in 16-bit lanes of uint64 words, eight at a time, and
// the sums are folded into s1 and s2 once per 128 bytes.
//
// For n bytes x_0..x_{n-1} after sums s1 and s2, the bytewise definition
// gives
//
//	s1' = s1 + Σ x_g
//	s2' = s2 + n*s1 + Σ (n-g) x_g
//
// With n = 128 and g = 8k+j (word k, byte j of the word), n-g is
// 8(16-k) - j, so Σ (n-g) x_g = 8 Σ_k P_k - Σ_j j C_j, where P_k is the sum
// of words 0..k and C_j the sum of byte j over the 16 words. Lanes hold the
// even bytes (lo) and the odd bytes (hi) of each word: p += lo accumulates
// the column sums C_j (at most 16*255 per lane), q += p the prefix sums
// (at most 136*255 per lane), both inside 16 bits.

const (
	adlerMod   = 65521
	adlerChunk = 1 << 20 // bytes between reductions; far below uint64 overflow
)

func adler32Sum(p []byte) uint32 { return adler32Update(1, p) }

func adler32Update(adler uint32, p []byte) uint32 {
	const m = 0x00FF00FF00FF00FF
	s1, s2 := uint64(adler&0xFFFF), uint64(adler>>16)
	for len(p) > 0 {
		c := p[:min(len(p), adlerChunk)]
		p = p[len(c):]
		for len(c) >= 128 {
			b := (*[128]byte)(c)
			var plo, phi, qlo, qhi uint64
			for i := 0; i < 128; i += 16 {
				v, w := le.Uint64(b[i:i+8]), le.Uint64(b[i+8:i+16])
				vlo, wlo := v&m, w&m
				plo += vlo
				phi += (v ^ vlo) >> 8
				qlo += plo
				qhi += phi
				plo += wlo
				phi += (w ^ wlo) >> 8
				qlo += plo
				qhi += phi
			}
			// The top lane of x*m, with lanes x0..x3 and m0..m3 lowest
			// first, is x0*m3 + x1*m2 + x2*m1 + x3*m0: a weighted sum of
			// x's lanes, exact as long as no lane of the product exceeds
			// 16 bits (no carry); here none exceeds 16*255*16. plo holds
			// C0, C2, C4, C6 and phi C1, C3, C5, C7.
			sum := (plo + phi) * 0x0001000100010001 >> 48
			weighted := plo*0x0000000200040006>>48 + phi*0x0001000300050007>>48
			// q's lanes (up to 34680) need 32 bits to be summed.
			const m32 = 0x0000FFFF0000FFFF
			q := qlo&m32 + qlo>>16&m32 + qhi&m32 + qhi>>16&m32
			sumP := q&0xFFFFFFFF + q>>32
			s2 += 128*s1 + 8*sumP - weighted
			s1 += sum
			c = c[128:]
		}
		for _, x := range c {
			s1 += uint64(x)
			s2 += s1
		}
		s1 %= adlerMod
		s2 %= adlerMod
	}
	return uint32(s2<<16 | s1)
}
