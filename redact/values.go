package redact

// Checks on a candidate value under a sensitive key: what is not worth
// masking (and what was masked already, which makes masking idempotent).

// The replacements. None of them contains a quote, a backslash or a control
// byte, so they are valid inside a JSON string; none of them looks like a
// secret to the scanner, and isMasked recognises each of them, so masking
// masked output changes nothing.
const (
	maskText    = "[REDACTED]"
	partialMark = "****"
	hashPrefix  = "[hmac-"
	hashSuffix  = "]"
	hashHexLen  = 12
)

// isMasked reports whether v holds a replacement: a value with one in it
// was masked before (or the part of it that was a secret was), and masking
// it again would make masking not idempotent.
func isMasked(v []byte) bool {
	for k := 0; k+3 < len(v); k++ {
		switch v[k] {
		case '*':
			if string(v[k:k+4]) == partialMark {
				return true
			}
		case '[':
			if hasPrefixAt(v, k, len(v), maskText) || hasPrefixAt(v, k, len(v), hashPrefix) {
				return true
			}
		}
	}
	return false
}

// isPlaceholder reports values that stand for a secret without being one:
// template and variable references (${DB_PASSWORD}, {{ .Values.token }},
// $(cat /run/secrets/x), %(password)s, <your-token>) and masks some other
// tool applied (***, xxxxxx, ......).
func isPlaceholder(v []byte) bool {
	if len(v) >= 2 {
		switch string(v[:2]) {
		case "${", "{{", "$(", "%(", "%s", "%v":
			return true
		}
	}
	if v[0] == '<' && v[len(v)-1] == '>' {
		return true
	}
	if len(v) >= 2 && v[0] == '$' && runFn(v, 1, len(v), func(c byte) bool { return isWord(c) }) == len(v) {
		return true // $API_KEY, $1
	}
	if len(v) >= 3 && v[0] == '%' && v[len(v)-1] == '%' && runFn(v, 1, len(v)-1, isWord) == len(v)-1 {
		return true // %PASSWORD%
	}
	if len(v) == 1 && (v[0] == '$' || v[0] == '%' || v[0] == '?') {
		return true
	}
	if len(v) >= 2 && (v[0] == ':' || v[0] == '@') && runFn(v, 1, len(v), isWord) == len(v) {
		return true // SQL parameters: :token, @password
	}
	c := v[0]
	if c != '*' && c != 'x' && c != 'X' && c != '.' && c != '#' && c != '-' {
		return false
	}
	for _, b := range v {
		if b != c {
			return false
		}
	}
	return true
}

// isLiteral reports the bare words that are values, not secrets, when they
// appear unquoted in text: booleans and nulls of the common languages.
func isLiteral(v []byte) bool {
	switch len(v) {
	case 2:
		return equalFold(v, "no") || equalFold(v, "on")
	case 3:
		return equalFold(v, "nil") || equalFold(v, "yes") || equalFold(v, "off")
	case 4:
		return equalFold(v, "true") || equalFold(v, "null") || equalFold(v, "none")
	case 5:
		return equalFold(v, "false")
	case 9:
		return equalFold(v, "undefined")
	}
	return false
}

// stopWords are ordinary words that follow sensitive key names in messages
// ("password: required", "token=expired", "auth: none"). They are kept even
// under a sensitive key: a real secret is never one of them.
var stopWords = map[string]bool{}

func init() {
	for _, w := range []string{
		"null", "nil", "none", "true", "false", "undefined", "yes", "no", "on", "off", "n/a", "na",
		"required", "missing", "invalid", "expired", "empty", "set", "unset", "changed", "updated",
		"reset", "ok", "okay", "failed", "fail", "failure", "denied", "provided", "present", "found",
		"notfound", "supplied", "valid", "enabled", "disabled", "redacted", "hidden", "masked",
		"removed", "omitted", "filtered", "secret", "sensitive", "too", "is", "was", "not", "has",
		"have", "had", "must", "should", "will", "can", "cannot", "does", "did", "mismatch",
		"incorrect", "wrong", "bad", "weak", "strong", "short", "long", "accepted", "rejected",
		"verified", "unverified", "rotated", "revoked", "refreshed", "issued", "created", "deleted",
		"saved", "stored", "loaded", "sent", "received", "generated", "configured", "ignored",
		"skipped", "error", "errors", "success", "successful", "unknown", "default", "the", "a", "an",
		"for", "of", "to", "in", "and", "or", "with", "from", "by", "at", "as", "if", "be", "been",
		"unavailable", "available", "pending", "active", "inactive", "change", "update", "check",
		"bearer", "basic", "token", "password", "apikey", "key", "value", "string", "hash", "new",
	} {
		stopWords[w] = true
	}
}

// isStopWord reports whether v is one of stopWords, ignoring case.
func isStopWord(v []byte) bool {
	if len(v) > 12 {
		return false
	}
	var buf [12]byte
	for k, c := range v {
		if !isLetter(c) && c != '/' {
			return false
		}
		buf[k] = lower(c)
	}
	return stopWords[string(buf[:len(v)])]
}

// looksRandom reports whether v looks like a machine-made credential rather
// than a word, an id or a digest: 16 to 512 token bytes with letters and
// digits (or base64 punctuation), not a UUID and not a lower-case hex
// digest. It guards the weak rules (a bare service name as key, a user name
// in a URL).
func looksRandom(v []byte) bool {
	if len(v) < 16 || len(v) > 512 {
		return false
	}
	var lo, up, dig, punct bool
	allHexLower := true
	for _, c := range v {
		switch {
		case 'a' <= c && c <= 'z':
			lo = true
			if c > 'f' {
				allHexLower = false
			}
		case 'A' <= c && c <= 'Z':
			up = true
			allHexLower = false
		case '0' <= c && c <= '9':
			dig = true
		case c == '+' || c == '/' || c == '=' || c == '_' || c == '-' || c == '.' || c == '~':
			punct = true
			if c != '-' {
				allHexLower = false
			}
		default:
			return false
		}
	}
	if allHexLower {
		switch len(v) {
		case 16, 20, 24, 32, 40, 48, 56, 64, 96, 128, 36:
			// digests, git SHAs, trace and span ids, UUIDs
			return false
		}
	}
	if isUUID(v) {
		return false
	}
	return (lo || up) && (dig || (lo && up && punct))
}

// lowVariety reports whether b has fewer than 5 distinct bytes: a
// placeholder such as ghp_xxxxxxxx or sntryu_aaaa, not a token.
func lowVariety(b []byte) bool {
	var seen [4]byte
	n := 0
outer:
	for _, c := range b {
		for _, x := range seen[:n] {
			if x == c {
				continue outer
			}
		}
		if n == len(seen) {
			return false
		}
		seen[n] = c
		n++
	}
	return true
}

// looksStrictlyRandom is looksRandom with both letter cases and digits
// required and at least ten distinct bytes: the bar for a bare "key",
// whose values are as often cache keys and object paths as credentials.
func looksStrictlyRandom(v []byte) bool {
	if !looksRandom(v) || !mixedCase(v) || !hasDigit(v) {
		return false
	}
	var seen [256]bool
	n := 0
	for _, c := range v {
		if !seen[c] {
			seen[c] = true
			n++
		}
	}
	return n >= 10
}

// isUUID reports the 8-4-4-4-12 hex form.
func isUUID(v []byte) bool {
	if len(v) != 36 {
		return false
	}
	for k, c := range v {
		switch k {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}
