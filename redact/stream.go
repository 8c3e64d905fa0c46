package redact

import (
	"bytes"

	"github.com/logship/logship/pipeline"
)

// maxPEMLines bounds how many lines after a "-----BEGIN ... PRIVATE KEY-----"
// line a Stream masks when no END line comes.
const maxPEMLines = 200

// Stream masks the lines of one log stream in order. It adds to the Masker
// what needs more than one line: a PEM private key printed line by line
// (BEGIN line, base64 lines, END line) has its base64 lines masked. A Stream
// is used by one goroutine.
type Stream struct {
	m        *Masker
	inPEM    bool
	pemLines int
	kc       *keyCache // allocated on the first line
}

// NewStream returns a Stream over m.
func (m *Masker) NewStream() *Stream { return &Stream{m: m} }

// AppendLine is Masker.AppendLine with the stream's state: it appends the
// masked line to dst, or returns dst and false when line needs no change.
func (st *Stream) AppendLine(dst, line []byte) ([]byte, bool) {
	if st.m.disabled {
		return dst, false
	}
	if st.inPEM {
		if out, changed, ok := st.pemBody(dst, line); ok {
			return out, changed
		}
		st.inPEM = false
	}
	if st.kc == nil {
		st.kc = new(keyCache)
	}
	out, changed, open := st.m.appendLine(dst, line, st.kc)
	if open {
		st.inPEM, st.pemLines = true, 0
	}
	return out, changed
}

// pemBody handles a line inside an open private key block. ok is false when
// the line is not part of the block (the END line, or an ordinary log line:
// the block was cut short), and the line is then masked as usual.
func (st *Stream) pemBody(dst, line []byte) (out []byte, changed, ok bool) {
	st.pemLines++
	if st.pemLines > maxPEMLines {
		return dst, false, false
	}
	b := bytes.TrimSpace(line)
	if bytes.HasPrefix(b, []byte("-----END")) {
		return dst, false, false
	}
	if len(b) == 0 || isMasked(b) {
		return dst, false, true
	}
	if !pemLine(b) {
		return dst, false, false
	}
	start := bytes.Index(line, b)
	end := start + len(b)
	out = append(dst, line[:start]...)
	out = st.m.replacement(out, b, spanText)
	out = append(out, line[end:]...)
	st.m.secrets[famPEM].Inc()
	st.m.linesChanged.Inc()
	return out, true, true
}

// pemLine reports whether b looks like a line of a PEM body: base64, or an
// RFC 1421 header (Proc-Type: 4,ENCRYPTED / DEK-Info: ...).
func pemLine(b []byte) bool {
	if runFn(b, 0, len(b), isB64) == len(b) {
		return true
	}
	if c := bytes.IndexByte(b, ':'); c > 0 && c+1 < len(b) && b[c+1] == ' ' {
		return isLetter(b[0]) && runFn(b, 0, c, func(c byte) bool { return isLetter(c) || c == '-' }) == c
	}
	return false
}

// NewWriter returns a StreamWriter that masks each record's Line (through
// one Stream per source, so that stdout and stderr keep their own PEM state)
// before passing it to next. Records that need no change are passed on as
// they are, without allocating; a changed record is a copy whose Line is
// the writer's own buffer, valid until the next Write. With a disabled
// masker it returns next itself.
//
// A record that is one piece of a long line (Partial) is masked on its own:
// a secret cut in two by the driver's line-size limit is not recognised.
func NewWriter(next pipeline.StreamWriter, m *Masker) pipeline.StreamWriter {
	if m == nil || m.disabled {
		return next
	}
	w := &writer{next: next}
	for i := range w.streams {
		w.streams[i] = m.NewStream()
	}
	return w
}

// maxKeptBuf: a writer drops a buffer that a huge line grew beyond this, so
// that one line does not pin memory for the life of the stream.
const maxKeptBuf = 1 << 20

type writer struct {
	next    pipeline.StreamWriter
	streams [3]*Stream // by pipeline.Source
	buf     []byte
	rec     pipeline.Record
}

func (w *writer) Write(rec *pipeline.Record) error {
	src := rec.Source
	if int(src) >= len(w.streams) {
		src = pipeline.SourceUnknown
	}
	out, changed := w.streams[src].AppendLine(w.buf[:0], rec.Line)
	if !changed {
		return w.next.Write(rec)
	}
	w.rec = *rec
	w.rec.Line = out
	err := w.next.Write(&w.rec)
	w.rec.Line = nil
	if cap(out) <= maxKeptBuf {
		w.buf = out[:0]
	} else {
		w.buf = nil
	}
	return err
}

func (w *writer) Flush() error { return w.next.Flush() }
func (w *writer) Close() error { return w.next.Close() }
