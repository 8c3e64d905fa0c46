package pipeline

import (
	"encoding/json"
	"strings"
	"testing"
)

func parseLine(p *Parser, line string) *Event {
	ev := new(Event)
	p.Parse(&Record{Line: []byte(line)}, ev)
	return ev
}

type wantField struct {
	key, value string
	kind       Kind
}

func TestParseJSON(t *testing.T) {
	p := NewParser(DefaultConfig())
	f := func(line string, want ...wantField) {
		t.Helper()
		ev := parseLine(p, line)
		if !ev.IsJSON {
			t.Fatalf("%q: IsJSON = false", line)
		}
		if len(ev.Fields) != len(want) {
			t.Fatalf("%q: %d fields, want %d", line, len(ev.Fields), len(want))
		}
		for i, w := range want {
			got := ev.Fields[i]
			if string(got.Key) != w.key || string(got.Value) != w.value || got.Kind != w.kind {
				t.Errorf("%q field %d = {%q, %q, %v}, want {%q, %q, %v}",
					line, i, got.Key, got.Value, got.Kind, w.key, w.value, w.kind)
			}
		}
	}
	f(`{}`)
	f(" \t\r\n{ } \r\n\t")
	f(`{"a":1}`, wantField{"a", "1", KindNumber})
	f(`{"s":"x y","n":-1.5e+3,"t":true,"f":false,"z":null,"o":{"g":[1,{"h":"}"}]},"a":[],"e":""}`,
		wantField{"s", `"x y"`, KindString},
		wantField{"n", "-1.5e+3", KindNumber},
		wantField{"t", "true", KindBool},
		wantField{"f", "false", KindBool},
		wantField{"z", "null", KindNull},
		wantField{"o", `{"g":[1,{"h":"}"}]}`, KindObject},
		wantField{"a", "[]", KindArray},
		wantField{"e", `""`, KindString})
	f(`{ "a" : "b" , "c" : [ 1 , 2 ] }`, wantField{"a", `"b"`, KindString}, wantField{"c", "[ 1 , 2 ]", KindArray})
	// Escaped keys are unescaped; values stay raw.
	f(`{"a\u0062\n\"\\\/":"\u00e9\ud83d\ude00"}`, wantField{"ab\n\"\\/", `"\u00e9\ud83d\ude00"`, KindString})
	// Duplicate keys are all kept, in line order.
	f(`{"a":1,"a":2}`, wantField{"a", "1", KindNumber}, wantField{"a", "2", KindNumber})
	// Invalid UTF-8 is kept byte for byte, as encoding/json.Valid accepts it.
	f("{\"k\xff\":\"v\xfe\"}", wantField{"k\xff", "\"v\xfe\"", KindString})
	f(`{"n":0,"m":-0.0e0,"big":123456789012345678901234567890}`,
		wantField{"n", "0", KindNumber}, wantField{"m", "-0.0e0", KindNumber},
		wantField{"big", "123456789012345678901234567890", KindNumber})
	f(`{"u":"\u0000"}`, wantField{"u", `"\u0000"`, KindString})
}

func TestParseRejects(t *testing.T) {
	p := NewParser(DefaultConfig())
	for _, line := range []string{
		``, ` `, `{`, `}`, `{"a"`, `{"a":`, `{"a":}`, `{"a":1,}`, `{,}`, `{"a":1 "b":2}`,
		`{"a":1}x`, `{"a":1}{}`, `{"a":1},`, `[1]`, `"s"`, `1`, `true`, `null`, `{'a':1}`, `{a:1}`,
		`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a":1e+}`, `{"a":+1}`, `{"a":0x1}`,
		`{"a":tru}`, `{"a":nul}`, `{"a":True}`, `{"a":NaN}`, `{"a":Infinity}`,
		`{"a":"\x"}`, `{"a":"\u12g4"}`, `{"a":"\u12"}`, `{"a":"\`, `{"a":"x`, `{"a":"x\"}`,
		"{\"a\":\"x\x00\"}", "{\"a\x00\":1}", "{\"a\":1}\x00", "\x00{\"a\":1}", "{\"a\":\"\t\"}", "{\"a\":\"\n\"}",
		`{"a":[1,]}`, `{"a":[1 2]}`, `{"a":[,1]}`, `{"a":{"b":1]}`, `{"a":[1}`, `{"a":{"b"}}`,
		"{\"a\":1}\v", "\f{\"a\":1}", "\xef\xbb\xbf{\"a\":1}", "{\"a\":1}\u00a0",
		`plain text with {"a":1} inside`,
	} {
		ev := parseLine(p, line)
		if ev.IsJSON || len(ev.Fields) != 0 {
			t.Errorf("%q: IsJSON = %v with %d fields, want text", line, ev.IsJSON, len(ev.Fields))
		}
		if json.Valid([]byte(line)) && strings.HasPrefix(strings.TrimSpace(line), "{") {
			t.Errorf("%q: test case is valid JSON", line)
		}
	}
}

// arrays and objects return a line whose nesting depth, counting the line's
// own object, is depth.
func arrays(depth int) string {
	return `{"a":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`
}

func objects(depth int) string {
	return `{"a":` + strings.Repeat(`{"b":`, depth-1) + "0" + strings.Repeat("}", depth)
}

func TestParseDepthCap(t *testing.T) {
	p := NewParser(DefaultConfig())
	for _, c := range []struct {
		line string
		want bool
	}{
		{arrays(MaxJSONDepth), true},
		{arrays(MaxJSONDepth + 1), false},
		{objects(MaxJSONDepth), true},
		{objects(MaxJSONDepth + 1), false},
		{arrays(100_000), false},
	} {
		if jsonDepth([]byte(c.line)) < MaxJSONDepth {
			t.Fatalf("test line has depth %d", jsonDepth([]byte(c.line)))
		}
		if got := parseLine(p, c.line).IsJSON; got != c.want {
			t.Errorf("depth %d: IsJSON = %v, want %v", jsonDepth([]byte(c.line)), got, c.want)
		}
	}
}

func TestAppendString(t *testing.T) {
	for _, raw := range []string{
		`""`, `"abc"`, `"\"\\\/\b\f\n\r\t"`, `"\u0041\u00e9\u20AC"`, `"\ud83d\ude00"`, `"\uD83D\uDE00"`,
		`"\ud800"`, `"\udc00"`, `"\ud800x"`, `"\ud800\u0041"`, `"\ud800\ud800\udc00"`, `"a\u0000b"`,
		"\"\xff\xfe\"", "\"caf\xc3\xa9\"",
	} {
		got, err := AppendString([]byte("pre:"), []byte(raw))
		if err != nil {
			t.Errorf("AppendString(%q): %v", raw, err)
			continue
		}
		var want string
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatalf("test case %q: %v", raw, err)
		}
		if fixUTF8(string(got)) != "pre:"+want {
			t.Errorf("AppendString(%q) = %q, want %q", raw, got, "pre:"+want)
		}
	}
	// Raw invalid UTF-8 is copied, not replaced.
	if got, _ := AppendString(nil, []byte("\"\xff\"")); string(got) != "\xff" {
		t.Errorf("invalid UTF-8 became %q", got)
	}
	for _, raw := range []string{
		``, `"`, `abc`, `"abc`, `abc"`, `"a"b"`, `"\"`, `"\x"`, `"\u12"`, `"\u12g4"`, `"\uD83D\uDE0"`,
		"\"a\x00\"", "\"a\nb\"", "\"\t\"", `'a'`,
	} {
		got, err := AppendString([]byte("pre"), []byte(raw))
		if err == nil || string(got) != "pre" {
			t.Errorf("AppendString(%q) = %q, %v; want dst unchanged and ErrInvalidString", raw, got, err)
		}
		if err != nil && err != ErrInvalidString {
			t.Errorf("AppendString(%q) error = %v, want ErrInvalidString", raw, err)
		}
	}
}

func TestKindString(t *testing.T) {
	want := map[Kind]string{KindString: "string", KindNumber: "number", KindBool: "bool", KindNull: "null",
		KindObject: "object", KindArray: "array", 0: "", 200: ""}
	for k, s := range want {
		if k.String() != s {
			t.Errorf("Kind(%d).String() = %q, want %q", k, k.String(), s)
		}
	}
}

// TestSkipJSON: the end of the value after blanks, -1 for what is not one
// valid value, and the depth cap counted as for a member of a line.
func TestSkipJSON(t *testing.T) {
	for _, c := range []struct {
		in    string
		depth int
		want  int
	}{
		{` {"a":[1,{"b":null}]} , 2`, 1, 21},
		{`"x\u0041" rest`, 1, 9},
		{`-1.5e3]`, 1, 6},
		{`{"a":}`, 1, -1},
		{`"a` + "\x01" + `"`, 1, -1},
		{`[01]`, 1, -1},
		{``, 1, -1},
		{`[[]]`, MaxJSONDepth - 1, 4},
		{`[[]]`, MaxJSONDepth, -1},
	} {
		if got := SkipJSON([]byte(c.in), 0, c.depth); got != c.want {
			t.Errorf("SkipJSON(%q, depth %d) = %d, want %d", c.in, c.depth, got, c.want)
		}
	}
}
