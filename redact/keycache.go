package redact

import (
	"encoding/binary"
	"math/bits"
)

// Logs repeat their keys: a JSON logger writes the same ten keys on every
// line, and key=value text repeats its keys too. A Stream therefore keeps
// the classification of the keys it has seen in a small direct-mapped
// cache, so that a repeated key costs a hash of two words and one
// comparison instead of a split and several table lookups. The cache
// belongs to the Stream (one goroutine); Masker.AppendLine, which may run
// on many goroutines at once, classifies without one. What classify
// returns depends on the key bytes and the policy only, so a cached answer
// is always the answer.

const (
	keyCacheBits = 7
	keyCacheSize = 1 << keyCacheBits
	keyCacheMax  = 32 // longer keys are classified every time
)

// A slot holds the key as its length and the two words keyWords reads;
// they are the whole key up to 16 bytes, and mid holds the bytes between
// them for longer keys. A lookup compares integers, not strings.
type keyCacheSlot struct {
	a, b uint64
	n    uint8 // length of the key; 0: empty
	info keyInfo
	mid  [keyCacheMax - 16]byte
}

type keyCache struct {
	slots [keyCacheSize]keyCacheSlot
}

// keyWords returns the first and last eight bytes of k (four when k is
// shorter than 8; the first, middle and last byte when it is shorter than
// 4). Together with the length they are all of a key of up to 16 bytes.
func keyWords(k []byte) (uint64, uint64) {
	n := len(k)
	switch {
	case n >= 8:
		return binary.LittleEndian.Uint64(k), binary.LittleEndian.Uint64(k[n-8:])
	case n >= 4:
		return uint64(binary.LittleEndian.Uint32(k)), uint64(binary.LittleEndian.Uint32(k[n-4:]))
	case n > 0:
		return uint64(k[0]) | uint64(k[n>>1])<<8 | uint64(k[n-1])<<16, 0
	}
	return 0, 0
}

// classify is t.classify(key), from the cache when key was seen before.
func (c *keyCache) classify(t *wordTable, key []byte) keyInfo {
	n := len(key)
	if n > keyCacheMax || n == 0 {
		return t.classify(key)
	}
	a, b := keyWords(key)
	h := (a ^ bits.RotateLeft64(b, 31) ^ uint64(n)<<56) * 0x9E3779B97F4A7C15
	sl := &c.slots[h>>(64-keyCacheBits)]
	if sl.a == a && sl.b == b && int(sl.n) == n && (n <= 16 || string(sl.mid[:n-16]) == string(key[8:n-8])) {
		return sl.info
	}
	ki := t.classify(key)
	sl.a, sl.b, sl.n, sl.info = a, b, uint8(n), ki
	if n > 16 {
		copy(sl.mid[:], key[8:n-8])
	}
	return ki
}

// classify classifies a key, through the Stream's cache if there is one.
func (sc *scanner) classify(key []byte) keyInfo {
	if sc.kc != nil {
		return sc.kc.classify(sc.m.keys, key)
	}
	return sc.m.keys.classify(key)
}
