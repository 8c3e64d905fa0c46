package redact

import (
	"encoding/binary"
	"math/bits"
)

// Word-at-a-time byte tests (SWAR): eight bytes are loaded as one uint64
// and tested at once. haszero sets the top bit of every byte of the result
// whose byte in x is zero; a borrow can also set it in a byte above a zero
// byte, never below, so the lowest set bit always marks the first zero
// byte and "any set" is exact.
const (
	lsb8 = 0x0101010101010101
	msb8 = 0x8080808080808080
)

func haszero(x uint64) uint64 { return (x - lsb8) &^ x & msb8 }

// hasbyte marks the bytes of x equal to c.
func hasbyte(x uint64, c byte) uint64 { return haszero(x ^ lsb8*uint64(c)) }

// hasless marks the bytes of x below n (n ≤ 0x80).
func hasless(x uint64, n byte) uint64 { return (x - lsb8*uint64(n)) &^ x & msb8 }

// firstMarked returns the index of the byte of the lowest mark.
func firstMarked(m uint64) int { return bits.TrailingZeros64(m) >> 3 }

func load64(b []byte, i int) uint64 { return binary.LittleEndian.Uint64(b[i : i+8]) }

// inRange marks the bytes of x in [a, b] (a ≥ 1, b < 0x80).
func inRange(x uint64, a, b byte) uint64 {
	const low7 = lsb8 * 0x7f
	y := x & low7
	ge := y + lsb8*uint64(0x80-a) // top bit set where byte ≥ a
	gt := y + lsb8*uint64(0x7f-b) // top bit set where byte > b
	return ge &^ gt &^ x & msb8
}

// mayAssign reports whether seg holds a byte that can separate a key from
// its value outside quotes (assign): '=', ':', '>' or a backslash (an
// escaped quote, \u003e); ';' and '<' are counted too, for speed. Without
// one, assign can only succeed on a quoted key followed by a comma
// (setProperty("KEY", "value")), which the scan checks for itself.
func mayAssign(seg []byte) bool {
	i := 0
	for ; i+8 <= len(seg); i += 8 {
		x := load64(seg, i)
		if inRange(x, ':', '>')|hasbyte(x, '\\') != 0 {
			return true
		}
	}
	for _, c := range seg[i:] {
		if ':' <= c && c <= '>' || c == '\\' {
			return true
		}
	}
	return false
}
