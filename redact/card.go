package redact

// Card numbers: 13 to 19 digits, written as one run or in the usual groups
// (4-4-4-4, 4-4-4-4-3, 4-6-5, 4-6-4) separated by single spaces or dashes,
// with an issuer prefix (IIN) and a length that a card brand uses, and a
// valid Luhn check digit. The IIN check is what keeps timestamps and ids
// safe: epoch milliseconds (13 digits) and nanoseconds (19 digits) start
// with 1, which no card brand uses, and Snowflake-style ids do too.

// matchCard matches a card number starting at the digit s[i]. It returns the
// end of the number or 0.
func matchCard(s []byte, i, hi int) int {
	r := run(s, i, hi, cDigit)
	if l := r - i; l >= 13 && l <= 19 {
		if r < hi && (isWord(s[r]) || (s[r] == '.' && r+1 < hi && isDigit(s[r+1]))) {
			return 0
		}
		if cardBrand(s[i:r]) && luhn(s[i:r]) {
			return r
		}
		return 0
	} else if l != 4 || r >= hi || (s[r] != ' ' && s[r] != '-') {
		return 0
	}
	// Grouped: 4 digits, then groups separated by the same single space
	// or dash. Try the longest grouping first and drop trailing groups
	// (a count after the number: "4111 1111 1111 1111 2 items").
	sep := s[r]
	var digits [24]byte
	var ends [6]int // end offset in s of each group
	var sizes [6]int
	n := copy(digits[:], s[i:r])
	ends[0], sizes[0] = r, 4
	ng := 1
	for p := r; p < hi && s[p] == sep && ng < len(ends); {
		q := run(s, p+1, hi, cDigit)
		g := q - p - 1
		if g < 1 || g > 6 || n+g > len(digits) {
			break
		}
		n += copy(digits[n:], s[p+1:q])
		ends[ng], sizes[ng] = q, g
		ng++
		p = q
	}
	for k := ng; k >= 3; k-- {
		total := 0
		for _, g := range sizes[:k] {
			total += g
		}
		end := ends[k-1]
		if total < 13 || total > 19 || !cardGroups(sizes[:k]) {
			continue
		}
		if end < hi && (isWord(s[end]) || (s[end] == '.' && end+1 < hi && isDigit(s[end+1]))) {
			continue
		}
		if cardBrand(digits[:total]) && luhn(digits[:total]) {
			return end
		}
	}
	return 0
}

// cardGroups accepts the ways card numbers are grouped: fours with a last
// group of one to four (4-4-4-4, 4-4-4-3, 4-4-4-4-3), and the 4-6-5 and
// 4-6-4 of American Express and Diners Club.
func cardGroups(g []int) bool {
	last := len(g) - 1
	if len(g) == 3 && g[1] == 6 && (g[2] == 5 || g[2] == 4) {
		return true
	}
	for _, x := range g[1:last] {
		if x != 4 {
			return false
		}
	}
	return g[last] >= 1 && g[last] <= 4
}

// cardBrand reports whether d (13 to 19 digits) starts with the issuer
// prefix of a card brand. Lengths are not checked per brand: brands have
// widened them over time, and the prefix is what separates cards from
// timestamps and ids (which start with 1).
func cardBrand(d []byte) bool {
	p2 := int(d[0]-'0')*10 + int(d[1]-'0')
	p4 := p2*100 + int(d[2]-'0')*10 + int(d[3]-'0')
	switch d[0] {
	case '4': // Visa
		return true
	case '5': // Mastercard
		return p2 >= 51 && p2 <= 55
	case '2': // Mastercard 2-series
		return p4 >= 2221 && p4 <= 2720
	case '3': // American Express 34/37, JCB 3528-3589, Diners Club 300-305/36/38/39
		return p2 == 34 || p2 == 37 || (p4 >= 3528 && p4 <= 3589) || p2 == 36 || p2 == 38 || p2 == 39 ||
			(p4 >= 3000 && p4 <= 3059)
	case '6': // Discover 6011/644-649/65, UnionPay 62
		return p4 == 6011 || p2 == 65 || (p4 >= 6440 && p4 <= 6499) || p2 == 62
	}
	return false
}

func luhn(d []byte) bool {
	sum := 0
	double := false
	for k := len(d) - 1; k >= 0; k-- {
		v := int(d[k] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// allDigits reports whether b is a run of ASCII digits.
func allDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}
