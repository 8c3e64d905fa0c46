package pipeline

import (
	"strings"
	"testing"
)

const (
	tpTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	tpSpan  = "00f067aa0ba902b7"
	tp      = "00-" + tpTrace + "-" + tpSpan + "-01"
)

// ids is what the search found in a line; "" means none.
type ids struct{ req, trace, span string }

func checkLine(t *testing.T, p *Parser, line string, want ids) {
	t.Helper()
	ev := parseLine(p, line)
	got := ids{string(ev.RequestID), string(ev.TraceID), string(ev.SpanID)}
	if got != want {
		t.Errorf("%.200q (IsJSON=%v):\n got %+v\nwant %+v", line, ev.IsJSON, got, want)
	}
	for _, id := range [][]byte{ev.RequestID, ev.TraceID, ev.SpanID} {
		if id != nil && len(id) == 0 {
			t.Errorf("%.200q: empty non-nil id", line)
		}
	}
}

func TestRequestIDSpellings(t *testing.T) {
	p := NewParser(DefaultConfig())
	for _, key := range []string{
		"request_id", "requestId", "requestID", "RequestID", "REQUEST_ID", "request-id", "request.id", "Request-Id",
		"x-request-id", "X-Request-ID", "x_request_id", "xRequestId", "X-REQUEST-ID",
		"req_id", "reqId", "req-id", "req.id", "REQID",
		"correlation_id", "correlationId", "Correlation-ID",
		"x-correlation-id", "X-Correlation-ID", "xCorrelationId",
		"rid", "RID", "Rid",
	} {
		want := ids{req: "abc-123"}
		checkLine(t, p, `{"`+key+`":"abc-123"}`, want)
		checkLine(t, p, `{"msg":"x","`+key+`": 	"abc-123" }`, want)
		checkLine(t, p, `text `+key+`=abc-123 more`, want)
		checkLine(t, p, key+`: abc-123`, want)
		checkLine(t, p, `text "`+key+`":"abc-123",`, want)
	}
}

func TestRequestIDJSON(t *testing.T) {
	p := NewParser(DefaultConfig())
	f := func(line string, want ids) { t.Helper(); checkLine(t, p, line, want) }
	none := ids{}
	f(`{"request_id":12345}`, ids{req: "12345"})
	f(`{"request_id":-1.5e3}`, ids{req: "-1.5e3"})
	f(`{"request_id":"a\u0062c\/d"}`, ids{req: "abc/d"})
	f(`{"request_id":true}`, none)
	f(`{"request_id":null}`, none)
	f(`{"request_id":["x"]}`, none)
	f(`{"request_id":{"id":"x"}}`, none)
	f(`{"request_id":""}`, none)
	f(`{"request_id":"`+strings.Repeat("a", MaxIDLen)+`"}`, ids{req: strings.Repeat("a", MaxIDLen)})
	f(`{"request_id":"`+strings.Repeat("a", MaxIDLen+1)+`"}`, none)
	f(`{"request_id":"`+strings.Repeat(`\u0061`, MaxIDLen+1)+`"}`, none)
	// Escaped keys are unescaped before they are matched.
	f(`{"request\u005fid":"x"}`, ids{req: "x"})
	// The earlier key of the list wins; among equals, the first in the line.
	f(`{"rid":"a","request_id":"b"}`, ids{req: "b"})
	f(`{"correlation_id":"a","x-request-id":"b"}`, ids{req: "b"})
	f(`{"request_id":"a","requestId":"b"}`, ids{req: "a"})
	f(`{"request_id":"","rid":"b"}`, ids{req: "b"})
	// One level into container objects, for what the top level lacks.
	for _, c := range []string{"http", "HTTP", "request", "req", "context", "ctx", "meta", "Context"} {
		f(`{"msg":"x","`+c+`":{"a":1,"request_id":"n"}}`, ids{req: "n"})
	}
	f(`{"http":{"request_id":"n"},"rid":"t"}`, ids{req: "t"})
	f(`{"rid":"t","http":{"request_id":"n"}}`, ids{req: "t"})
	f(`{"http":{"rid":"a"},"ctx":{"request_id":"b"}}`, ids{req: "b"})
	f(`{"http":{"request_id":"a"},"ctx":{"request_id":"b"}}`, ids{req: "a"})
	f(`{"http":{"method":"GET","request":{"request_id":"deep"}}}`, none)
	f(`{"data":{"request_id":"x"}}`, none)
	f(`{"http":"request_id=x"}`, none)
	f(`{"http":["request_id","x"]}`, none)
	f(`{"req":{"id":"x"}}`, none)
	f(`{"ctx":{"request_id":{"v":"x"},"rid":"y"}}`, ids{req: "y"})
	f(`{"ctx":{"trace_id":"t","span_id":"s","traceparent":"`+tp+`"}}`, ids{trace: "t", span: "s"})
	// Keys that contain a request-id key inside a longer word do not match.
	for _, k := range []string{"prerequest_id", "request_ids", "request_id_hash", "my_request_id", "request_identifier",
		"grid", "rids", "rid2", "request", "id", "requestid_old", "x-request", "request_i_d_x"} {
		f(`{"`+k+`":"x"}`, none)
	}
	// A value that only looks like a key=value pair is not searched.
	f(`{"msg":"handled request_id=abc"}`, none)
}

func TestRequestIDText(t *testing.T) {
	p := NewParser(DefaultConfig())
	f := func(line string, want ids) { t.Helper(); checkLine(t, p, line, want) }
	none := ids{}
	r := func(id string) ids { return ids{req: id} }
	f(`request_id=abc`, r("abc"))
	f(`request_id:abc`, r("abc"))
	f("request_id: \t abc", r("abc"))
	f(`request_id="abc def"`, r("abc def"))
	f(`request_id='abc def'`, r("abc def"))
	f(`{"request_id": "abc", "x": 1`, r("abc")) // malformed JSON is text
	f(`'request_id': 'abc'`, r("abc"))
	f(`"request_id":12345}`, r("12345"))
	f(`X-Request-ID: 5f3e`, r("5f3e"))
	f(`GET /x?foo=1&request_id=abc&bar=2 HTTP/1.1`, r("abc"))
	f(`GET http://host:8080/x?rid=abc`, r("abc"))
	f(`12:30:45 rid=abc`, r("abc"))
	for _, end := range []string{" ", "\t", ",", ";", "&", `"`, "'", ")", "]", "}"} {
		f(`(rid=abc`+end+`next)`, r("abc"))
	}
	f(`[rid=abc]`, r("abc"))
	f(`{rid=abc}`, r("abc"))
	f(`rid=abc|def`, r("abc|def"))
	f(`rid=`+strings.Repeat("a", MaxIDLen), r(strings.Repeat("a", MaxIDLen)))
	f(`rid=`+strings.Repeat("a", MaxIDLen+1), none)
	f(`rid=`+strings.Repeat("a", MaxIDLen+1)+` request_id=b`, r("b"))
	f(`rid="`+strings.Repeat("a", MaxIDLen+1)+`" request_id=b`, r("b"))
	f(`rid=a request_id=b`, r("b"))
	f(`request_id=a request_id=b`, r("a"))
	f(`request_id= abc`, none)
	f(`request_id=`, none)
	f(`request_id:`, none)
	f(`request_id abc`, none)
	f(`request_id="abc`, none)
	f(`request_id="a\"b" rid=c`, r("c"))
	f(`request_id = abc`, none)
	// Look-alikes: the key must be a whole word.
	for _, k := range []string{"prerequest_id", "my_request_id", "request_identifier", "request_ids", "request_id_hash",
		"grid", "subrid", "rid2", "Rapid", "request.id.old", "ärid", "résumé_rid", "x9rid", "_rid_x"} {
		f(k+`=abc`, none)
		f(`text `+k+`: abc`, none)
		f(`"`+k+`":"abc"`, none)
	}
	f(`ärid=abc rid=def`, r("def"))
	// Mismatched quotes around the key are not a quoted key.
	f(`"rid':abc`, none)
}

func TestTraceContext(t *testing.T) {
	p := NewParser(DefaultConfig())
	f := func(line string, want ids) { t.Helper(); checkLine(t, p, line, want) }
	f(`{"trace_id":"t1","span_id":"s1"}`, ids{trace: "t1", span: "s1"})
	f(`{"traceId":"t1","spanId":"s1"}`, ids{trace: "t1", span: "s1"})
	f(`{"trace.id":"t1","span.id":"s1"}`, ids{trace: "t1", span: "s1"})
	f(`{"TraceID":123,"SpanID":456}`, ids{trace: "123", span: "456"})
	f(`{"traceparent":"`+tp+`"}`, ids{trace: tpTrace, span: tpSpan})
	f(`{"http":{"traceparent":"`+tp+`"}}`, ids{trace: tpTrace, span: tpSpan})
	f(`{"traceparent":"`+strings.ToUpper(tp)+`"}`, ids{})
	// Explicit keys win over a traceparent, and a traceparent's span is
	// used only with its own trace id.
	f(`{"trace_id":"t1","traceparent":"`+tp+`"}`, ids{trace: "t1"})
	f(`{"trace_id":"`+tpTrace+`","traceparent":"`+tp+`"}`, ids{trace: tpTrace, span: tpSpan})
	f(`{"traceparent":"`+tp+`","span_id":"s1"}`, ids{trace: tpTrace, span: "s1"})
	f(`{"span_id":"s1"}`, ids{span: "s1"})
	f(`{"trace_id":"t1","request_id":"r","http":{"span_id":"s2"}}`, ids{req: "r", trace: "t1", span: "s2"})
	f(`{"trace_id":true}`, ids{})
	f(`trace_id=t1 span_id=s1 request_id=r`, ids{req: "r", trace: "t1", span: "s1"})
	f(`traceparent=`+tp, ids{trace: tpTrace, span: tpSpan})
	f(`traceparent: `+tp+` done`, ids{trace: tpTrace, span: tpSpan})
	f(`"traceparent":"`+tp+`"`, ids{trace: tpTrace, span: tpSpan})
	f(`traceparent=`+tp+`x`, ids{})
	f(`pretraceparent=`+tp, ids{})
	f(`traceparent=00-`+tpTrace+`-0000000000000000-01 traceparent=`+tp, ids{trace: tpTrace, span: tpSpan})
	// From the corpus: the log's own ids and a traceparent that differs.
	f(`{"ts":"2026-11-20T03:44:25.141Z","level":"debug","msg":"span finished","trace_id":"952cb98dca28e0ce790d02ba68e2b292","span_id":"1699fd1dd3e61f5f","traceparent":"00-c59a61378b3dda8d874ea8e941ac9159-083d8f37af9e4e0d-01"}`,
		ids{trace: "952cb98dca28e0ce790d02ba68e2b292", span: "1699fd1dd3e61f5f"})
}

func TestParseTraceparent(t *testing.T) {
	for _, c := range []struct {
		v           string
		trace, span string // "" = invalid
	}{
		{tp, tpTrace, tpSpan},
		{"00-" + tpTrace + "-" + tpSpan + "-00", tpTrace, tpSpan},
		{"00-" + tpTrace + "-" + tpSpan + "-ff", tpTrace, tpSpan},
		{"01-" + tpTrace + "-" + tpSpan + "-01", tpTrace, tpSpan},
		{"cc-" + tpTrace + "-" + tpSpan + "-01-what-the-future-holds", tpTrace, tpSpan},
		{"cc-" + tpTrace + "-" + tpSpan + "-01x", "", ""},
		{"00-" + tpTrace + "-" + tpSpan + "-01-x", "", ""},
		{"00-" + tpTrace + "-" + tpSpan + "-01 ", "", ""},
		{"ff-" + tpTrace + "-" + tpSpan + "-01", "", ""},
		{"0g-" + tpTrace + "-" + tpSpan + "-01", "", ""},
		{"00-" + strings.Repeat("0", 32) + "-" + tpSpan + "-01", "", ""},
		{"00-" + tpTrace + "-" + strings.Repeat("0", 16) + "-01", "", ""},
		{"00-" + strings.ToUpper(tpTrace) + "-" + tpSpan + "-01", "", ""},
		{"00-" + tpTrace + "-" + strings.ToUpper(tpSpan) + "-01", "", ""},
		{"00-" + tpTrace + "-" + tpSpan + "-0G", "", ""},
		{"00-" + tpTrace + "-" + tpSpan + "-1", "", ""},
		{"00-" + tpTrace[1:] + "-" + tpSpan + "-01", "", ""},
		{"00_" + tpTrace + "-" + tpSpan + "-01", "", ""},
		{"00-" + tpTrace + "_" + tpSpan + "-01", "", ""},
		{"00-" + tpTrace + "-" + tpSpan + "_01", "", ""},
		{"", "", ""},
	} {
		trace, span, ok := ParseTraceparent([]byte(c.v))
		if ok != (c.trace != "") || string(trace) != c.trace || string(span) != c.span {
			t.Errorf("ParseTraceparent(%q) = %q, %q, %v", c.v, trace, span, ok)
		}
	}
}

func TestNormalizeKey(t *testing.T) {
	for in, want := range map[string]string{
		"request_id": "requestid", "X-Request-ID": "xrequestid", "trace.id": "traceid", "A_b-C.d": "abcd",
		"__": "", "Ünï": "Ünï", "k9": "k9", strings.Repeat("k", maxKeyLen) + "._-": strings.Repeat("k", maxKeyLen),
	} {
		var buf [maxKeyLen]byte
		if got, ok := normalizeKey(&buf, []byte(in)); !ok || string(got) != want {
			t.Errorf("normalizeKey(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	var buf [maxKeyLen]byte
	if _, ok := normalizeKey(&buf, []byte(strings.Repeat("k", maxKeyLen+1))); ok {
		t.Error("normalizeKey accepted a key longer than any key")
	}
}

func TestRequestIDCustomKeys(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RequestIDKeys = []string{"txn", "req", "txn", "Request_ID"}
	p := NewParser(cfg)
	checkLine(t, p, `{"txn":"a"}`, ids{req: "a"})
	checkLine(t, p, `{"req":"a"}`, ids{req: "a"})
	checkLine(t, p, `{"rid":"a"}`, ids{})                         // not configured any more
	checkLine(t, p, `{"req":{"txn":"n"}}`, ids{req: "n"})         // still a container
	checkLine(t, p, `{"requestId":"b","txn":"a"}`, ids{req: "a"}) // the repeat keeps its first rank
	checkLine(t, p, `{"req":"b","requestId":"a"}`, ids{req: "b"})
	checkLine(t, p, `x txn=a`, ids{req: "a"})

	cfg.RequestIDKeys = nil
	p = NewParser(cfg)
	checkLine(t, p, `{"request_id":"a","trace_id":"t"}`, ids{trace: "t"})
	checkLine(t, p, `request_id=a trace_id=t`, ids{trace: "t"})
}

func TestScanTextLinearTime(t *testing.T) {
	// Every "rid=" is a candidate whose value runs to the end of the line:
	// the worst case for the value scan, which must still pick the first
	// value short enough. (Re-reading each value would cost MaxIDLen bytes
	// per candidate; BenchmarkRequestID/pathological shows it does not.)
	line := strings.Repeat("rid=", 1<<17)
	p := NewParser(DefaultConfig())
	// Only the candidates near the end have a value short enough.
	last := strings.Repeat("rid=", MaxIDLen/4)
	for range 20 {
		checkLine(t, p, line, ids{req: last})
	}
	checkLine(t, p, line+" request_id=x", ids{req: "x"})
}

func BenchmarkRequestID(b *testing.B) {
	m := newKeyMatcher(DefaultRequestIDKeys)
	b.Run("text130", func(b *testing.B) {
		line := []byte(benchTextLine)
		b.SetBytes(int64(len(line)))
		b.ReportAllocs()
		var s idSearch
		for b.Loop() {
			s.reset()
			m.scanText(line, &s)
		}
		if string(s.req) != "90f26b82-fe91-5329-1785-7e0831e" {
			b.Fatalf("found %q", s.req)
		}
	})
	b.Run("json300", func(b *testing.B) {
		line := []byte(benchJSONLine)
		var scratch []byte
		fields, ok := parseObject(line, nil, &scratch)
		if !ok {
			b.Fatal("bench line is not JSON")
		}
		b.SetBytes(int64(len(line)))
		b.ReportAllocs()
		var s idSearch
		for b.Loop() {
			s.reset()
			m.searchFields(fields, &s, &scratch)
		}
		if string(s.req) != "90f26b82-fe91-5329-1785-7e0831e5554e" {
			b.Fatalf("found %q", s.req)
		}
	})
	b.Run("pathological", func(b *testing.B) {
		line := []byte(strings.Repeat("rid=", 1<<14))
		b.SetBytes(int64(len(line)))
		b.ReportAllocs()
		var s idSearch
		for b.Loop() {
			s.reset()
			m.scanText(line, &s)
		}
	})
	b.Run("traceparent", func(b *testing.B) {
		v := []byte(tp)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, ok := ParseTraceparent(v); !ok {
				b.Fatal("invalid")
			}
		}
	})
}
