package lzop

import (
	"encoding/binary"
	"errors"
)

// LZO1X decoding, written for this package from the format description
// (the Linux kernel's Documentation/staging/lzo.rst). It accepts what
// github.com/anchore/go-lzo's Decompress accepts, with the same output
// (FuzzDecompress1x compares the two), but copies matches and literals in
// words or with copy() instead of byte by byte, which is faster on dense
// data and far faster on long runs (README.md).
//
// A stream is a sequence of instructions. The state (0..4) is the number
// of literals the previous instruction copied, 4 meaning "4 or more":
//
//	first byte 18..20   copy byte-17 literals, state = byte-17
//	first byte 21..255  copy byte-17 literals, state = 4
//	0000LLLL  state 0   literal run, 3+L bytes (L = 0: 18 + 255*zeros + byte)
//	0000DDSS  state 1-3 match, 2 bytes at distance 1 + D + 4*H   (+1 byte H)
//	0000DDSS  state 4   match, 3 bytes at distance 2049 + D + 4*H (+1 byte H)
//	0001HLLL            match, 2+L bytes (L = 0: 9 + 255*zeros + byte),
//	                    LE16 DDDDDDDD DDDDDDSS, distance 16384 + H<<14 + D;
//	                    distance 16384 with length 3 ends the stream
//	001LLLLL            match, 2+L bytes (L = 0: 33 + 255*zeros + byte),
//	                    LE16 as above, distance 1 + D
//	01LDDDSS            match, 3+L bytes at distance 1 + D + 8*H (+1 byte H)
//	1LLDDDSS            match, 5+L bytes at distance 1 + D + 8*H (+1 byte H)
//
// Every match is followed by S (0..3) literals, and the state becomes S.

var (
	errLZOInput    = errors.New("input overrun")
	errLZOOutput   = errors.New("output overrun")
	errLZOBehind   = errors.New("lookbehind overrun")
	errLZOEnd      = errors.New("bad end of stream marker")
	errLZOTrailing = errors.New("input not fully consumed")
	errLZOTooLong  = errors.New("length overflow")
)

// maxLZOLength is longer than any block; it keeps length sums far from
// overflowing.
const maxLZOLength = 1 << 30

var le = binary.LittleEndian

// decompress1x decodes the LZO1X stream src into dst and returns the number
// of bytes written. The stream must end exactly at the end of src.
func decompress1x(src, dst []byte) (int, error) {
	if len(src) < 3 {
		return 0, errLZOInput
	}
	ip, op := 0, 0
	state := 0
	if t := int(src[0]); t > 17 {
		t -= 17
		ip = 1
		if t > len(src)-ip {
			return op, errLZOInput
		}
		if t > len(dst)-op {
			return op, errLZOOutput
		}
		copy(dst[op:op+t], src[ip:ip+t])
		ip += t
		op += t
		state = min(t, 4)
	}
	for {
		if ip >= len(src) {
			return op, errLZOInput
		}
		inst := int(src[ip])
		ip++
		var dist, n, next int
		switch {
		case inst >= 64: // M2
			if ip >= len(src) {
				return op, errLZOInput
			}
			dist = int(src[ip])<<3 + (inst>>2)&7 + 1
			ip++
			n = inst>>5 + 1
			next = inst & 3
		case inst >= 32: // M3
			n = inst & 31
			if n == 0 {
				var err error
				if n, ip, err = longLength(src, ip, 31); err != nil {
					return op, err
				}
			}
			n += 2
			if len(src)-ip < 2 {
				return op, errLZOInput
			}
			v := int(le.Uint16(src[ip:]))
			ip += 2
			dist = v>>2 + 1
			next = v & 3
		case inst >= 16: // M4
			n = inst & 7
			if n == 0 {
				var err error
				if n, ip, err = longLength(src, ip, 7); err != nil {
					return op, err
				}
			}
			n += 2
			if len(src)-ip < 2 {
				return op, errLZOInput
			}
			v := int(le.Uint16(src[ip:]))
			ip += 2
			dist = (inst&8)<<11 + v>>2
			if dist == 0 {
				switch {
				case n != 3:
					return op, errLZOEnd
				case ip < len(src):
					return op, errLZOTrailing
				}
				return op, nil
			}
			dist += 16384
			next = v & 3
		case state == 0: // M1: a literal run
			n = inst
			if n == 0 {
				var err error
				if n, ip, err = longLength(src, ip, 15); err != nil {
					return op, err
				}
			}
			n += 3
			if n > len(src)-ip {
				return op, errLZOInput
			}
			if n > len(dst)-op {
				return op, errLZOOutput
			}
			copy(dst[op:op+n], src[ip:ip+n])
			ip += n
			op += n
			state = 4
			continue
		default: // M1: a short match
			if ip >= len(src) {
				return op, errLZOInput
			}
			dist = inst>>2 + int(src[ip])<<2 + 1
			ip++
			n = 2
			if state == 4 {
				dist += 2048
				n = 3
			}
			next = inst & 3
		}

		if dist > op {
			return op, errLZOBehind
		}
		if next > len(src)-ip {
			return op, errLZOInput
		}
		if n+next > len(dst)-op {
			return op, errLZOOutput
		}
		m := op - dist
		switch {
		case dist >= 8 && len(dst)-op >= n+8 && n <= 16:
			// Copy 8 or 16 bytes: the surplus lands beyond op+n, where
			// later output overwrites it, and reads only bytes before op.
			le.PutUint64(dst[op:], le.Uint64(dst[m:]))
			if n > 8 {
				if dist >= 16 {
					le.PutUint64(dst[op+8:], le.Uint64(dst[m+8:]))
				} else {
					copy(dst[op+8:op+n], dst[m+8:m+n])
				}
			}
		case dist >= n:
			copy(dst[op:op+n], dst[m:m+n])
		default:
			// Overlapping: the dist bytes before op repeat. Each copy
			// doubles the stretch already repeated.
			for k := op; k < op+n; {
				k += copy(dst[k:op+n], dst[m:k])
			}
		}
		op += n
		if next > 0 {
			if len(src)-ip >= 4 && len(dst)-op >= 4 {
				le.PutUint32(dst[op:], le.Uint32(src[ip:]))
			} else {
				copy(dst[op:op+next], src[ip:ip+next])
			}
			ip += next
			op += next
		}
		state = next
	}
}

// longLength reads the length extension that follows a length field of
// zero: zero bytes worth 255 each, then a non-zero byte, plus base.
func longLength(src []byte, ip, base int) (int, int, error) {
	start := ip
	for ip < len(src) && src[ip] == 0 {
		ip++
	}
	if ip >= len(src) {
		return 0, ip, errLZOInput
	}
	zeros := ip - start
	if zeros > maxLZOLength/255 {
		return 0, ip, errLZOTooLong
	}
	n := zeros*255 + base + int(src[ip])
	return n, ip + 1, nil
}
