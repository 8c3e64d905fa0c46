package redact

import (
	"bufio"
	"io"
)

// Filter copies r to w line by line, masked through one Stream: exactly one
// output line per input line, in order. Lines end at '\n' (a '\r' before it
// is part of the line); a last line without a newline is written without
// one. Lines of any length pass whole. It is `logship redact`.
func (m *Masker) Filter(r io.Reader, w io.Writer) error {
	st := m.NewStream()
	in := bufio.NewReaderSize(r, 1<<20)
	out := bufio.NewWriterSize(w, 1<<20)
	var buf, long []byte
	for {
		line, err := in.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// Longer than the buffer: collect the whole line.
			long = append(long[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = in.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 0 {
			nl := line[len(line)-1] == '\n'
			if nl {
				line = line[:len(line)-1]
			}
			if o, changed := st.AppendLine(buf[:0], line); changed {
				out.Write(o)
				if cap(o) <= maxKeptBuf {
					buf = o[:0]
				}
			} else {
				out.Write(line)
			}
			if nl {
				out.WriteByte('\n')
			}
			if cap(long) > maxKeptBuf {
				long = nil
			}
		}
		if err == io.EOF {
			return out.Flush()
		}
		if err != nil {
			out.Flush()
			return err
		}
	}
}
