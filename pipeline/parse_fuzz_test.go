package pipeline

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks the parser against encoding/json: it never panics, it
// accepts only what json.Valid accepts, it accepts every valid object within
// the depth cap, and its fields mean what encoding/json decodes. The id
// search runs on every input too, in JSON and in text mode.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, ` {"a":"b"} `, `{"a":[1,{"b":null}],"c":true}`, `{"a":1,"a":2}`,
		`{"k\u00e9\ud83d\ude00":"\ud800"}`, "{\"\xff\":\"\xfe\"}", `{"a":1e400}`, `{"a":-0.5E-7}`,
		`{"request_id":"abc","http":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}`,
		`rid=abc trace_id: t span_id="s"`, `"request_id":"x"`, `{"a":"\u0000"}`, "{\"a\":1}\x00", `{"a":`,
		benchJSONLine, benchTextLine, arrays(MaxJSONDepth), arrays(MaxJSONDepth + 1),
	} {
		f.Add([]byte(s))
	}
	rows, _ := readCorpus(benignCorpus) // seeds only: absent is fine
	for _, r := range rows {
		f.Add([]byte(r.Line))
	}
	jsonParser := NewParser(DefaultConfig())
	textCfg := DefaultConfig()
	textCfg.ParseJSON = false
	textParser := NewParser(textCfg)
	f.Fuzz(func(t *testing.T, line []byte) {
		orig := bytes.Clone(line)
		var ev Event
		jsonParser.Parse(&Record{Line: line}, &ev)
		if !bytes.Equal(line, orig) {
			t.Fatal("Parse modified the line")
		}
		checkIDs(t, &ev)
		valid := json.Valid(line)
		if ev.IsJSON && !valid {
			t.Fatalf("IsJSON for a line json.Valid rejects: %q", line)
		}
		if !ev.IsJSON && len(ev.Fields) != 0 {
			t.Fatalf("text line with %d fields", len(ev.Fields))
		}
		trimmed := bytes.TrimLeft(line, " \t\r\n")
		isObject := valid && len(trimmed) > 0 && trimmed[0] == '{' && jsonDepth(line) <= MaxJSONDepth
		if isObject && !ev.IsJSON {
			t.Fatalf("valid object rejected: %q", line)
		}
		if ev.IsJSON {
			compareWithEncodingJSON(t, line, ev.Fields)
		}

		var tev Event
		textParser.Parse(&Record{Line: line}, &tev)
		if tev.IsJSON || len(tev.Fields) != 0 {
			t.Fatal("parse-json off produced JSON")
		}
		checkIDs(t, &tev)
		if !ev.IsJSON && (!bytes.Equal(ev.RequestID, tev.RequestID) || !bytes.Equal(ev.TraceID, tev.TraceID) || !bytes.Equal(ev.SpanID, tev.SpanID)) {
			t.Fatal("a text line's ids depend on parse-json")
		}
	})
}

func checkIDs(t *testing.T, ev *Event) {
	t.Helper()
	for _, id := range [][]byte{ev.RequestID, ev.TraceID, ev.SpanID} {
		if id != nil && (len(id) == 0 || len(id) > MaxIDLen) {
			t.Fatalf("id of %d bytes", len(id))
		}
	}
	if !ev.IsJSON { // text ids alias the line
		for _, id := range [][]byte{ev.RequestID, ev.TraceID, ev.SpanID} {
			if id != nil && !bytes.Contains(ev.Line, id) {
				t.Fatalf("id %q is not in the line", id)
			}
		}
	}
}

func compareWithEncodingJSON(t *testing.T, line []byte, fields []Field) {
	t.Helper()
	var want map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber() // numbers too large for float64 are valid JSON
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("encoding/json cannot decode an accepted line %q: %v", line, err)
	}
	got := map[string]any{}
	for _, fl := range fields {
		var v any
		d := json.NewDecoder(bytes.NewReader(fl.Value))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatalf("value %q of key %q does not decode: %v", fl.Value, fl.Key, err)
		}
		if k := kindOf(v); k != fl.Kind {
			t.Fatalf("value %q has Kind %v, want %v", fl.Value, fl.Kind, k)
		}
		if fl.Kind == KindString {
			s, err := AppendString(nil, fl.Value)
			if err != nil || fixUTF8(string(s)) != v.(string) {
				t.Fatalf("AppendString(%q) = %q, %v; encoding/json says %q", fl.Value, s, err, v)
			}
		}
		got[fixUTF8(string(fl.Key))] = v // the last duplicate wins, as in encoding/json
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fields of %q:\n got %v\nwant %v", line, got, want)
	}
}

func kindOf(v any) Kind {
	switch v.(type) {
	case string:
		return KindString
	case json.Number:
		return KindNumber
	case bool:
		return KindBool
	case nil:
		return KindNull
	case map[string]any:
		return KindObject
	case []any:
		return KindArray
	}
	return 0
}

// fixUTF8 replaces each byte that is not part of valid UTF-8 with U+FFFD,
// as encoding/json does when it decodes a string.
func fixUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s { // ranging over a string yields U+FFFD per invalid byte
		b.WriteRune(r)
	}
	return b.String()
}

// jsonDepth returns the deepest nesting of objects and arrays in line,
// ignoring brackets inside strings.
func jsonDepth(line []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}
