package syslogsink

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

// rsyslog's configuration for TestRsyslog: every transport logship speaks,
// all writing what rsyslog parsed as JSON lines (receivers.md §2).
// Control characters are kept as received so multi-line messages can be
// compared.
const rsyslogConf = `
global(
  workDirectory="{{.Dir}}/work"
  maxMessageSize="64k"
  parser.escapeControlCharactersOnReceive="off"
  defaultNetstreamDriverCAFile="{{.CA}}"
  defaultNetstreamDriverCertFile="{{.Cert}}"
  defaultNetstreamDriverKeyFile="{{.Key}}"
)
module(load="imtcp" maxSessions="200")
module(load="imptcp")
module(load="imudp")
module(load="imuxsock" SysSock.Use="off")
input(type="imtcp" port="{{.TCP}}" address="127.0.0.1" ruleset="out" SupportOctetCountedFraming="on")
input(type="imtcp" port="{{.GTLS}}" address="127.0.0.1" ruleset="out"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" port="{{.OSSL}}" address="127.0.0.1" ruleset="out"
      streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")
input(type="imudp" port="{{.UDP}}" address="127.0.0.1" ruleset="out")
input(type="imptcp" path="{{.Dir}}/stream.sock" ruleset="out")
input(type="imuxsock" Socket="{{.Dir}}/dgram.sock" UseSpecialParser="off" ParseHostname="on"
      RateLimit.Interval="0" IgnoreTimestamp="off" ruleset="out")
template(name="json" type="list") {
  constant(value="{")
  property(name="inputname" outname="input" format="jsonf") constant(value=",")
  property(name="protocol-version" outname="ver" format="jsonf") constant(value=",")
  property(name="pri" outname="pri" format="jsonf") constant(value=",")
  property(name="timereported" dateFormat="rfc3339" outname="ts" format="jsonf") constant(value=",")
  property(name="hostname" outname="host" format="jsonf") constant(value=",")
  property(name="app-name" outname="app" format="jsonf") constant(value=",")
  property(name="procid" outname="procid" format="jsonf") constant(value=",")
  property(name="msgid" outname="msgid" format="jsonf") constant(value=",")
  property(name="structured-data" outname="sd" format="jsonf") constant(value=",")
  property(name="msg" outname="msg" format="jsonf")
  constant(value="}\n")
}
ruleset(name="out") {
  action(type="omfile" file="{{.Dir}}/out/parsed.jsonl" template="json")
}
`

type rsyslogRecord struct {
	Input, Ver, PRI, TS, Host, App, ProcID, MsgID, SD, Msg string
}

func (r *rsyslogRecord) UnmarshalJSON(b []byte) error {
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*r = rsyslogRecord{m["input"], m["ver"], m["pri"], m["ts"], m["host"], m["app"], m["procid"], m["msgid"], m["sd"], m["msg"]}
	return nil
}

func freePort(t *testing.T, network string) string {
	t.Helper()
	var addr net.Addr
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = pc.LocalAddr()
		pc.Close()
	} else {
		ln := listenTCP(t)
		addr = ln.Addr()
		ln.Close()
	}
	_, port, _ := net.SplitHostPort(addr.String())
	return port
}

type rsyslogd struct {
	dir                  string
	tcp, gtls, ossl, udp string
	out                  string
	pki                  *testPKI
}

func startRsyslog(t *testing.T) *rsyslogd {
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/rsyslogd"); serr != nil {
			t.Skip("rsyslogd not installed (apt-get install -y rsyslog rsyslog-gnutls rsyslog-openssl)")
		}
		bin = "/usr/sbin/rsyslogd"
	}
	// Unix socket paths are limited to 108 bytes; t.TempDir can be long.
	dir, err := os.MkdirTemp("", "rsl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{"work", "out"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := &rsyslogd{dir: dir, pki: newTestPKI(t), out: filepath.Join(dir, "out", "parsed.jsonl"),
		tcp: freePort(t, "tcp"), gtls: freePort(t, "tcp"), ossl: freePort(t, "tcp"), udp: freePort(t, "udp")}
	var conf bytes.Buffer
	template.Must(template.New("conf").Parse(rsyslogConf)).Execute(&conf, map[string]string{
		"Dir": dir, "CA": r.pki.caFile, "Cert": r.pki.serverCert, "Key": r.pki.serverKey,
		"TCP": r.tcp, "GTLS": r.gtls, "OSSL": r.ossl, "UDP": r.udp,
	})
	confPath := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confPath, conf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-N1", "-f", confPath).CombinedOutput(); err != nil {
		t.Fatalf("rsyslogd -N1: %v\n%s", err, out)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "-n", "-f", confPath, "-i", filepath.Join(dir, "rsyslogd.pid"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("rsyslogd output:\n%s", logs.String())
		}
	})
	// rsyslogd is an external process: poll for its listeners, bounded.
	deadline := time.Now().Add(15 * time.Second)
	for _, p := range []string{r.tcp, r.gtls, r.ossl} {
		for {
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+p, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-exited:
				t.Fatalf("rsyslogd exited:\n%s", logs.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("rsyslogd not listening on %s: %v", p, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, sock := range []string{"stream.sock", "dgram.sock"} {
		for {
			if _, err := os.Stat(filepath.Join(dir, sock)); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("rsyslogd did not create %s", sock)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return r
}

// waitRecords polls rsyslog's output file until every marker has a record,
// and returns the records by marker.
func (r *rsyslogd) waitRecords(t *testing.T, markers []string) map[string]rsyslogRecord {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		found := map[string]rsyslogRecord{}
		if f, err := os.Open(r.out); err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var rec rsyslogRecord
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					continue // a line still being written
				}
				for _, m := range markers {
					if strings.Contains(rec.Msg, m) {
						found[m] = rec
					}
				}
			}
			f.Close()
		}
		if len(found) == len(markers) {
			return found
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(r.out)
			t.Fatalf("rsyslog parsed %d of %d markers; output:\n%s", len(found), len(markers), out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRsyslog sends through every transport to a real rsyslogd and checks
// what it parsed.
func TestRsyslog(t *testing.T) {
	r := startRsyslog(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	meta := *testMeta
	meta.Attrs = map[string]string{"com.example.team": "core", `odd"key]`: `va"l]ue\`}
	type transport struct {
		name string
		opts map[string]string
	}
	tls := func(port string, kv ...string) map[string]string {
		m := map[string]string{OptAddress: "tcp+tls://127.0.0.1:" + port, OptTLSCACert: r.pki.caFile}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	transports := []transport{
		{"tcp-octet", map[string]string{OptAddress: "tcp://127.0.0.1:" + r.tcp}},
		{"tcp-newline", map[string]string{OptAddress: "tcp://127.0.0.1:" + r.tcp, OptFraming: "newline", OptFormat: "rfc5424"}},
		{"tcp-3164", map[string]string{OptAddress: "tcp://127.0.0.1:" + r.tcp, OptFraming: "newline", OptFormat: "rfc3164"}},
		{"gtls-anon", tls(r.gtls)},
		{"ossl-mtls", tls(r.ossl, OptTLSCert, r.pki.clientCert, OptTLSKey, r.pki.clientKey)},
		{"udp", map[string]string{OptAddress: "udp://127.0.0.1:" + r.udp}},
		{"unix-octet", map[string]string{OptAddress: "unix://" + r.dir + "/stream.sock", OptFraming: "octet-counted"}},
		{"unix-newline", map[string]string{OptAddress: "unix://" + r.dir + "/stream.sock"}},
		{"unixgram", map[string]string{OptAddress: "unixgram://" + r.dir + "/dgram.sock"}},
	}
	var markers []string
	want := map[string]struct {
		transport string
		line      string
		src       pipeline.Source
	}{}
	for _, tr := range transports {
		tr.opts[OptHostname] = "logship-test"
		tr.opts[OptFacility] = "local3"
		cfg, enabled, err := ParseConfig(tr.opts, nil)
		if err != nil || !enabled {
			t.Fatalf("%s: %v", tr.name, err)
		}
		s, _ := newTestSink(t, cfg)
		m := meta
		m.Tag = "app-" + tr.name
		lines := []string{
			fmt.Sprintf(`{"msg":"hello","marker":"M-%s-1"}`, tr.name),
			fmt.Sprintf("M-%s-2 stderr text", tr.name),
		}
		multiline := cfg.Format != FormatRFC3164 && (cfg.Network != NetworkTCP && cfg.Network != NetworkUnix || cfg.Framing == FramingOctetCounted)
		if multiline {
			lines = append(lines, fmt.Sprintf("M-%s-3 first line\n\tsecond line", tr.name))
		}
		b := &sinks.Batch{Meta: &m}
		for i, l := range lines {
			src := pipeline.SourceStdout
			if i == 1 {
				src = pipeline.SourceStderr
			}
			b.Events = append(b.Events, ev(src, now.UnixNano(), l))
			marker := fmt.Sprintf("M-%s-%d", tr.name, i+1)
			markers = append(markers, marker)
			want[marker] = struct {
				transport string
				line      string
				src       pipeline.Source
			}{tr.name, l, src}
		}
		// UDP and the listeners may not be ready the very first time; a
		// refused batch is retried, as the delivery wrapper would.
		var sendErr error
		for range 50 {
			if sendErr = s.Send(ctxTimeout(t, 10*time.Second), b); sendErr == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if sendErr != nil {
			t.Fatalf("%s: %v", tr.name, sendErr)
		}
	}
	got := r.waitRecords(t, markers)
	for _, marker := range markers {
		w, rec := want[marker], got[marker]
		name := w.transport
		sev := 6
		if w.src == pipeline.SourceStderr {
			sev = 3
		}
		if rec.PRI != fmt.Sprint(19*8+sev) || rec.Host != "logship-test" || rec.App != "app-"+name {
			t.Errorf("%s: pri %s host %s app %s", marker, rec.PRI, rec.Host, rec.App)
		}
		ts, err := time.Parse(time.RFC3339Nano, rec.TS)
		wantTS := now
		switch {
		case name == "tcp-newline": // rfc5424: seconds
			wantTS = now.Truncate(time.Second)
		case name == "tcp-3164":
			wantTS = now.Truncate(time.Second)
		}
		if err != nil || !ts.Equal(wantTS) {
			t.Errorf("%s: timestamp %s, want %s", marker, rec.TS, wantTS.Format(time.RFC3339Nano))
		}
		if name == "tcp-3164" {
			if strings.TrimPrefix(rec.Msg, " ") != w.line {
				t.Errorf("%s: msg %q, want %q", marker, rec.Msg, w.line)
			}
			if rec.ProcID != "3f2a1b9c8d7e" {
				t.Errorf("%s: procid %q", marker, rec.ProcID)
			}
			continue
		}
		if rec.Ver != "1" || rec.ProcID != "3f2a1b9c8d7e" || rec.MsgID != "-" || rec.Msg != w.line {
			t.Errorf("%s: ver %s procid %s msgid %s msg %q, want %q", marker, rec.Ver, rec.ProcID, rec.MsgID, rec.Msg, w.line)
		}
		for _, part := range []string{
			`[logship@32473 container_id="` + testMeta.ContainerID + `" container_name="web" image="nginx:1.25" source="` + w.src.String() + `"]`,
			`[attrs@32473 com.example.team="core" odd_key_="va\"l\]ue\\"]`,
		} {
			if !strings.Contains(rec.SD, part) {
				t.Errorf("%s: sd %s lacks %s", marker, rec.SD, part)
			}
		}
	}

	// The mutual-TLS listener refuses a client without a certificate:
	// that must be an error, not a batch reported delivered and lost.
	cfg, _, err := ParseConfig(tls(r.ossl, OptHostname, "logship-test"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := newTestSink(t, cfg)
	if err := s.Send(ctxTimeout(t, 10*time.Second), batchOf(&meta, "refused")); err == nil {
		t.Error("client without a certificate reported delivery to the mutual-TLS listener")
	}
}
