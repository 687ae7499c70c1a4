package zstd

import (
	"encoding/binary"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// hashZeros adds n zero bytes to the XXH64 digest h. Long runs (most of
// a sparse image) skip the input: over a zero stripe an accumulator lane
// only rotates and multiplies, which is done here directly on the lanes,
// taken from and put back into the digest through its documented binary
// form (magic, v1..v4, total, buffered bytes); about twice the speed of
// hashing a buffer of zeros.
func hashZeros(h *xxhash.Digest, n int64) {
	const prime1 = 11400714785074694791
	const minStripes = 64
	if n < 32*(minStripes+1) {
		hashZeroBuf(h, n)
		return
	}
	state, err := h.MarshalBinary()
	if err != nil || len(state) != 4+8*5+32 {
		hashZeroBuf(h, n)
		return
	}
	// Fill the digest's partial stripe first.
	total := binary.LittleEndian.Uint64(state[4+32:])
	if k := int64(-total & 31); k > 0 {
		hashZeroBuf(h, k)
		n -= k
		if state, err = h.MarshalBinary(); err != nil {
			hashZeroBuf(h, n)
			return
		}
		total += uint64(k)
	}
	stripes := n / 32
	v1 := binary.LittleEndian.Uint64(state[4:])
	v2 := binary.LittleEndian.Uint64(state[12:])
	v3 := binary.LittleEndian.Uint64(state[20:])
	v4 := binary.LittleEndian.Uint64(state[28:])
	for i := stripes; i > 0; i-- {
		v1 = bits.RotateLeft64(v1, 31) * prime1
		v2 = bits.RotateLeft64(v2, 31) * prime1
		v3 = bits.RotateLeft64(v3, 31) * prime1
		v4 = bits.RotateLeft64(v4, 31) * prime1
	}
	binary.LittleEndian.PutUint64(state[4:], v1)
	binary.LittleEndian.PutUint64(state[12:], v2)
	binary.LittleEndian.PutUint64(state[20:], v3)
	binary.LittleEndian.PutUint64(state[28:], v4)
	binary.LittleEndian.PutUint64(state[36:], total+uint64(stripes)*32)
	if err := h.UnmarshalBinary(state); err != nil {
		panic(err) // cannot happen: the state came from MarshalBinary
	}
	hashZeroBuf(h, n-stripes*32)
}

// zeroBuf is hashed for short runs of zeros.
var zeroBuf [16 << 10]byte

func hashZeroBuf(h *xxhash.Digest, n int64) {
	for ; n > 0; n -= int64(len(zeroBuf)) {
		h.Write(zeroBuf[:min(n, int64(len(zeroBuf)))])
	}
}
