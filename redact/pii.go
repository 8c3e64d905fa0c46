package redact

// Personal data, masked only when the policy opts in (redact-pii): e-mail
// addresses, IPv4 and IPv6 addresses, phone numbers. They are not secrets
// and logs are full of them, so the defaults leave them alone.

type piiSet uint8

const (
	piiEmail piiSet = 1 << iota
	piiIP
	piiPhone
)

// The names redact-pii accepts.
const (
	PIIEmail = "email"
	PIIIP    = "ip"
	PIIPhone = "phone"
)

func parsePII(names []string) (piiSet, bool) {
	var p piiSet
	for _, n := range names {
		switch n {
		case PIIEmail:
			p |= piiEmail
		case PIIIP:
			p |= piiIP
		case PIIPhone:
			p |= piiPhone
		case "all":
			p |= piiEmail | piiIP | piiPhone
		case "none":
		default:
			return p, false
		}
	}
	return p, true
}

// email masks the address around the '@' at s[i].
func (sc *scanner) email(i, lo, hi int) int {
	s := sc.s
	st := i
	for st > lo && cls[s[st-1]]&cLocal != 0 && i-st < 64 {
		st--
	}
	for st < i && (s[st] == '.' || s[st] == '-' || s[st] == '+') {
		st++
	}
	if st == i || (st > lo && nearMask(s[st-1])) {
		return 0
	}
	e := runFn(s, i+1, hi, func(c byte) bool { return isAlnum(c) || c == '.' || c == '-' })
	for e > i+1 && (s[e-1] == '.' || s[e-1] == '-') {
		e--
	}
	dom := s[i+1 : e]
	dot := -1
	for k := len(dom) - 1; k >= 0; k-- {
		if dom[k] == '.' {
			dot = k
			break
		}
	}
	if dot <= 0 || len(dom)-dot-1 < 2 || runFn(dom, dot+1, len(dom), isLetter) != len(dom) {
		return 0
	}
	sc.add(st, e, famEmail, spanText)
	return e
}

// ipv4 masks a dotted quad s[i:j] (each part 0-255).
func (sc *scanner) ipv4(i, j, lo, hi int) int {
	s := sc.s
	p := i
	for part := 0; part < 4; part++ {
		d := run(s, p, hi, cDigit)
		if d == p || d-p > 3 || (d-p > 1 && s[p] == '0') {
			return 0
		}
		v := 0
		for _, c := range s[p:d] {
			v = v*10 + int(c-'0')
		}
		if v > 255 {
			return 0
		}
		p = d
		if part < 3 {
			if p >= hi || s[p] != '.' {
				return 0
			}
			p++
		}
	}
	if p < hi && (isWord(s[p]) || nearMask(s[p]) || (s[p] == '.' && p+1 < hi && isDigit(s[p+1]))) {
		return 0
	}
	if i > lo && nearMask(s[i-1]) {
		return 0
	}
	sc.add(i, p, famIP, spanText)
	return p
}

// ipv6 masks an IPv6 address starting at i: hex groups of up to four digits
// separated by ':', eight groups or fewer with one "::". Clock times
// (12:30:00) and fingerprints (16 groups) do not qualify.
func (sc *scanner) ipv6(i, lo, hi int) int {
	s := sc.s
	if i > lo && (isWord(s[i-1]) || s[i-1] == ':' || nearMask(s[i-1])) {
		return 0
	}
	p := i
	groups, colons := 0, 0
	double := false
	hexLetter := false
	for p < hi && colons <= 9 {
		if s[p] == ':' {
			if p+1 < hi && s[p+1] == ':' {
				if double {
					return 0
				}
				double = true
				colons += 2
				p += 2
				continue
			}
			colons++
			p++
			continue
		}
		d := runFn(s, p, hi, isHex)
		if d == p {
			break
		}
		if d-p > 4 {
			return 0
		}
		for _, c := range s[p:d] {
			if !isDigit(c) {
				hexLetter = true
			}
		}
		groups++
		p = d
		if p >= hi || s[p] != ':' || groups > 8 {
			break
		}
	}
	if p < hi && nearMask(s[p]) {
		return 0 // an address cut short by a replacement
	}
	for p > i && s[p-1] == ':' && !(p-2 >= i && s[p-2] == ':') {
		p--
		colons--
	}
	if groups > 8 || colons < 2 || (!double && groups != 8) || (!double && !hexLetter && groups < 8) {
		return 0
	}
	if double && groups == 0 {
		return 0
	}
	// Next to a replacement ("A::****1111") is not an address either:
	// masking must not make new matches.
	if p < hi && (isWord(s[p]) || s[p] == '.' || nearMask(s[p])) {
		return 0
	}
	sc.add(i, p, famIP, spanText)
	return p
}

// phone masks an E.164-style number (+ and 8 to 15 digits with single
// spaces, dashes, dots or parentheses between groups) or a North American
// one ((555) 123-4567, 555-123-4567).
func (sc *scanner) phone(i, lo, hi int) int {
	s := sc.s
	if i > lo && (isWord(s[i-1]) || s[i-1] == '.' || s[i-1] == '-' || nearMask(s[i-1])) {
		return 0
	}
	plus := s[i] == '+'
	p := i
	if plus {
		p++
	}
	digits := 0
	groups := 0
	var sizes [3]int
	last := p
	for p < hi && digits <= 15 && groups <= 8 {
		c := s[p]
		switch {
		case isDigit(c):
			d := run(s, p, hi, cDigit)
			digits += d - p
			if groups < len(sizes) {
				sizes[groups] = d - p
			}
			groups++
			p = d
			last = p
			continue
		case c == '(' || c == ')':
			p++
			continue
		case (c == ' ' || c == '-' || c == '.') && p+1 < hi && (isDigit(s[p+1]) || s[p+1] == '('):
			p++
			continue
		case (c == ' ' || c == '-' || c == '.') && p+1 < hi && nearMask(s[p+1]):
			return 0 // a number cut short by a replacement
		}
		break
	}
	if p < hi && nearMask(s[p]) {
		return 0 // a number cut short by a replacement
	}
	p = last
	if p < hi && (isWord(s[p]) || nearMask(s[p])) {
		return 0
	}
	if plus {
		if digits < 8 || digits > 15 {
			return 0
		}
	} else if groups != 3 || sizes != [3]int{3, 3, 4} {
		return 0
	}
	sc.add(i, p, famPhone, spanText)
	return p
}

// nearMask reports the bytes a replacement starts or ends with: personal
// data must not be found next to one, or masking masked output would mask
// more.
func nearMask(c byte) bool { return c == '*' || c == '[' || c == ']' }
