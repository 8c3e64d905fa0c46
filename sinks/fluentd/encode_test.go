package fluentd

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tinylib/msgp/msgp"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

// recordKeys returns the keys of event i's record, in wire order, read
// from the encoder's entries with msgp.
func recordKeys(t *testing.T, e *encoder, i int) []string {
	t.Helper()
	start := 0
	if i > 0 {
		start = e.ends[i-1]
	}
	b := e.entries[start:e.ends[i]]
	n, b, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil || n != 2 {
		t.Fatalf("entry %d: %v (n=%d)", i, err, n)
	}
	if b, err = msgp.Skip(b); err != nil {
		t.Fatal(err)
	}
	sz, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for range sz {
		var k string
		if k, b, err = msgp.ReadStringBytes(b); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		if b, err = msgp.Skip(b); err != nil {
			t.Fatal(err)
		}
	}
	if len(b) != 0 {
		t.Fatalf("entry %d: %d trailing bytes", i, len(b))
	}
	return keys
}

func TestMsgpackPrimitivesMatchMsgp(t *testing.T) {
	for _, v := range []int64{0, 1, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, math.MaxInt64,
		-1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, math.MinInt64} {
		// msgp writes non-negative int64s in the signed formats; we use
		// the unsigned ones, which are as small or smaller, as Fluentd does.
		want := msgp.AppendInt64(nil, v)
		if v >= 0 {
			want = msgp.AppendUint64(nil, uint64(v))
		}
		got := appendInt(nil, v)
		if !bytes.Equal(got, want) {
			t.Errorf("int %d: % x, want % x", v, got, want)
		}
		if back, rest, err := msgp.ReadInt64Bytes(got); err != nil || back != v || len(rest) != 0 {
			t.Errorf("int %d reads back as %d, %v", v, back, err)
		}
	}
	for _, v := range []uint64{0, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, math.MaxUint64} {
		if got, want := appendUint(nil, v), msgp.AppendUint64(nil, v); !bytes.Equal(got, want) {
			t.Errorf("uint %d: % x, msgp % x", v, got, want)
		}
	}
	for _, n := range []int{0, 31, 32, 255, 256, 65535, 65536} {
		s := strings.Repeat("s", n)
		if got, want := appendStr(nil, s), msgp.AppendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("str len %d: header % x, msgp % x", n, got[:min(5, len(got))], want[:min(5, len(want))])
		}
		if got, want := append(appendBinHeader(nil, len(s)), s...), msgp.AppendBytes(nil, []byte(s)); !bytes.Equal(got, want) {
			t.Errorf("bin len %d differs", n)
		}
		if got, want := appendMapHeader(nil, n), msgp.AppendMapHeader(nil, uint32(n)); !bytes.Equal(got, want) {
			t.Errorf("map header %d: % x, msgp % x", n, got, want)
		}
		if got, want := appendArrayHeader(nil, n), msgp.AppendArrayHeader(nil, uint32(n)); !bytes.Equal(got, want) {
			t.Errorf("array header %d: % x, msgp % x", n, got, want)
		}
	}
	if got, want := appendFloat64(nil, 1.5), msgp.AppendFloat64(nil, 1.5); !bytes.Equal(got, want) {
		t.Errorf("float: % x, msgp % x", got, want)
	}
	if got := appendEventTime(nil, 0x01020304, 999_999_999); !bytes.Equal(got, []byte{0xd7, 0, 1, 2, 3, 4, 0x3b, 0x9a, 0xc9, 0xff}) {
		t.Errorf("EventTime % x", got)
	}
}

func TestEscapedStringShrinksHeader(t *testing.T) {
	// 40 bytes of escapes decode to 10 characters: the str8 header that
	// was reserved must become a fixstr.
	raw := []byte(`"` + strings.Repeat(`\u0041`, 10) + `"`)
	got := appendJSONString([]byte{0xff}, raw)
	want := append([]byte{0xff}, msgp.AppendString(nil, strings.Repeat("A", 10))...)
	if !bytes.Equal(got, want) {
		t.Fatalf("% x, want % x", got, want)
	}
}

func TestTimeClamp(t *testing.T) {
	for _, tc := range []struct {
		ns        int64
		sec, nsec uint32
	}{
		{-5, 0, 0},
		{int64(1<<32) * 1e9, 1<<32 - 1, 999_999_999},
		{1_700_000_000_123_456_789, 1_700_000_000, 123_456_789},
	} {
		b := appendTime(nil, tc.ns, true)
		if sec, nsec := binary.BigEndian.Uint32(b[2:]), binary.BigEndian.Uint32(b[6:]); sec != tc.sec || nsec != tc.nsec {
			t.Errorf("%d: %d.%d", tc.ns, sec, nsec)
		}
	}
	if got, _, _ := msgp.ReadInt64Bytes(appendTime(nil, 1_700_000_000_999_999_999, false)); got != 1_700_000_000 {
		t.Errorf("int seconds %d", got)
	}
}

func TestSplit(t *testing.T) {
	e := &encoder{ends: []int{10, 20, 30, 100, 110, 120}}
	got := e.split(25, nil)
	want := []span{{0, 2}, {2, 3}, {3, 4}, {4, 6}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
	e.ends = []int{1000}
	if got := e.split(25, nil); !reflect.DeepEqual(got, []span{{0, 1}}) {
		t.Fatalf("one oversized event: %v", got)
	}
}

func TestKeySetLarge(t *testing.T) {
	s := keySet{seed: keySeed}
	var keys [][]byte
	for i := range 1000 {
		keys = append(keys, []byte(fmt.Sprintf("k%d", i)))
	}
	for round := range 2 {
		s.reset()
		for i, k := range keys {
			if s.has(k) {
				t.Fatalf("round %d: %s present before add", round, k)
			}
			s.add(k)
			if !s.has(keys[i/2]) {
				t.Fatalf("round %d: %s missing", round, keys[i/2])
			}
		}
		if s.has([]byte("absent")) {
			t.Fatal("absent key found")
		}
	}
}

// FuzzEncodeLine parses a line as the pipeline does, encodes it and decodes
// the entry with msgp: it must decode whole, with unique keys, the line in
// "log", and every JSON field written under its own key meaning what
// encoding/json reads from the line.
func FuzzEncodeLine(f *testing.F) {
	for _, s := range []string{
		`plain`, `{"a":1}`, `{"log":"x","a":[1,2,{"b":null}],"c":"\u00e9\ud83d\ude00","d":-0,"e":1e400,"f":1.25e-3}`,
		`{"request_id":"r","request_id":"s","json.request_id":1}`, `{"n":18446744073709551616}`,
		`{"deep":` + strings.Repeat(`[`, 63) + strings.Repeat(`]`, 63) + `}`, `{"s":"\"\\\/\b\f\n\r\t"}`,
	} {
		f.Add(s)
	}
	p := pipeline.NewParser(pipeline.DefaultConfig())
	f.Fuzz(func(t *testing.T, line string) {
		var ev pipeline.Event
		rec := pipeline.Record{Time: 1, Source: pipeline.SourceStdout, Line: []byte(line)}
		p.Parse(&rec, &ev)
		e := getEncoder()
		defer putEncoder(e)
		b := &sinks.Batch{Meta: testMeta(), Events: []pipeline.Event{ev}}
		e.encodeBatch(b, encodeOptions{subSecond: true})
		keys := recordKeys(t, e, 0)
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[k] {
				t.Fatalf("key %q twice", k)
			}
			seen[k] = true
		}
		v, rest, err := msgp.ReadIntfBytes(e.entries)
		if err != nil || len(rest) != 0 {
			t.Fatalf("entry does not decode: %v", err)
		}
		record := v.([]any)[1].(map[string]any)
		if record["log"] != line {
			t.Fatalf("log = %q", record["log"])
		}
		if !ev.IsJSON || !utf8.ValidString(line) {
			return // encoding/json replaces invalid UTF-8; we keep it
		}
		var top map[string]any
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&top); err != nil {
			t.Fatalf("pipeline says JSON, encoding/json says %v", err)
		}
		count := map[string]int{}
		for _, fl := range ev.Fields {
			count[string(fl.Key)]++
		}
		for i, fl := range ev.Fields {
			k := string(fl.Key)
			if e.plan[i] != fieldAsIs || count[k] != 1 {
				continue
			}
			if !sameJSON(record[k], top[k]) {
				t.Fatalf("field %q: msgpack %#v, encoding/json %#v", k, record[k], top[k])
			}
		}
	})
}

// sameJSON compares a value decoded by msgp with one decoded by
// encoding/json (UseNumber).
func sameJSON(m, j any) bool {
	switch jv := j.(type) {
	case nil:
		return m == nil
	case bool, string:
		return m == jv
	case json.Number:
		switch mv := m.(type) {
		case int64:
			n, err := strconv.ParseInt(jv.String(), 10, 64)
			return err == nil && n == mv
		case uint64:
			n, err := strconv.ParseUint(jv.String(), 10, 64)
			return err == nil && n == mv
		case float64:
			f, err := strconv.ParseFloat(jv.String(), 64)
			return err == nil && f == mv
		case string:
			f, err := strconv.ParseFloat(mv, 64)
			return mv == jv.String() && (err != nil || math.IsInf(f, 0))
		}
		return false
	case []any:
		mv, ok := m.([]any)
		if !ok || len(mv) != len(jv) {
			return false
		}
		for i := range jv {
			if !sameJSON(mv[i], jv[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		mv, ok := m.(map[string]any)
		if !ok || len(mv) != len(jv) {
			return false
		}
		for k, x := range jv {
			if !sameJSON(mv[k], x) {
				return false
			}
		}
		return true
	}
	return false
}
