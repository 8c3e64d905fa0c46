package redact

import "bytes"

// k8sSecretData masks the values of the data: and stringData: maps of a
// Kubernetes Secret manifest printed in s[lo:hi] (kubectl output, a dumped
// manifest). Lines end at newlines or at \n escapes; documents at "---"
// lines; the maps are found by indentation. It runs only when the scan saw
// "kind: Secret", and masks only in the documents of that kind.
func (sc *scanner) k8sSecretData(lo, hi int) {
	s := sc.s
	ds := lo
	for p := lo; p <= hi; {
		e, n := hi, hi+1
		if p < hi {
			e, n = lineEnd(s, p, hi)
		}
		_, c := indentOf(s, p, e)
		if p >= hi || bytes.Equal(s[c:e], []byte("---")) {
			if docKindSecret(s, ds, min(p, hi)) {
				sc.secretDoc(ds, min(p, hi))
			}
			ds = n
		}
		p = n
	}
}

// docKindSecret reports whether the document s[p:hi] has a kind: Secret
// line.
func docKindSecret(s []byte, p, hi int) bool {
	for p < hi {
		e, n := lineEnd(s, p, hi)
		_, c := indentOf(s, p, e)
		if hasPrefixAt(s, c, e, "kind:") {
			v := skipBlank(s, c+5, e)
			for v < e && (s[v] == '"' || s[v] == '\'' || s[v] == '\\') {
				v++
			}
			if hasPrefixFoldAt(s, v, e, "secret") && boundaryAfter(s, v+6, e) {
				return true
			}
		}
		p = n
	}
	return false
}

func (sc *scanner) secretDoc(lo, hi int) {
	s := sc.s
	dataIndent := -1  // indentation of the data: line while inside its map
	blockIndent := -1 // a "key: |" block value: deeper lines are the value
	for p := lo; p < hi; {
		// One line: [p, e), next line at n.
		e, n := lineEnd(s, p, hi)
		ind, c := indentOf(s, p, e)
		line := s[c:e]
		p = n
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if blockIndent >= 0 {
			if ind > blockIndent {
				be := trimLayoutRight(s, c, e)
				if be > c && !isMasked(s[c:be]) {
					sc.add(c, be, famKey, spanText)
				}
				continue
			}
			blockIndent = -1
		}
		if dataIndent >= 0 && ind <= dataIndent {
			dataIndent = -1
		}
		if dataIndent < 0 {
			if bytes.HasPrefix(line, []byte("data:")) || bytes.HasPrefix(line, []byte("stringData:")) {
				dataIndent = ind
			}
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		v := skipBlank(s, c+colon+1, e)
		if v >= e {
			continue
		}
		if s[v] == '|' || s[v] == '>' {
			blockIndent = ind
			continue
		}
		ve := trimLayoutRight(s, v, e)
		if q := s[v]; (q == '"' || q == '\'') && ve-v >= 2 && s[ve-1] == q {
			v, ve = v+1, ve-1
		} else if q == '\\' && ve-v >= 4 && s[v+1] == '"' && s[ve-2] == '\\' && s[ve-1] == '"' {
			v, ve = v+2, ve-2
		}
		if ve > v && !isMasked(s[v:ve]) && !isPlaceholder(s[v:ve]) {
			sc.add(v, ve, famKey, spanText)
		}
	}
}

// lineEnd returns the end of the line starting at p (a newline byte or a
// \n escape ends it) and the start of the next one.
func lineEnd(s []byte, p, hi int) (int, int) {
	for k := p; k < hi; k++ {
		switch s[k] {
		case '\n':
			return k, k + 1
		case '\\':
			if k+1 < hi && s[k+1] == 'n' {
				return k, k + 2
			}
			k++
		}
	}
	return hi, hi
}

// indentOf returns the indentation width of the line s[p:e] (spaces, tabs,
// \t escapes) and where its content starts.
func indentOf(s []byte, p, e int) (int, int) {
	ind := 0
	for p < e {
		switch {
		case s[p] == ' ' || s[p] == '\t':
			p++
		case s[p] == '\\' && p+1 < e && s[p+1] == 't':
			p += 2
		default:
			return ind, p
		}
		ind++
	}
	return ind, p
}
