package redact

// family is a rule family: the label of logship_redact_secrets_total and
// the answer to "why was this masked".
type family uint8

const (
	famNone family = iota
	famKey         // value under a sensitive key name
	famURL         // password in URL userinfo or curl -u
	famAuth        // Bearer / Basic credentials
	famJWT
	famAWS
	famGCP
	famAzure
	famGitHub
	famGitLab
	famSlack
	famStripe
	famPEM
	famCard
	famToken   // other service token formats
	famPattern // user pattern (redact-patterns)
	famEmail
	famIP
	famPhone
	numFamilies
)

var familyNames = [numFamilies]string{
	famNone:    "",
	famKey:     "key",
	famURL:     "url",
	famAuth:    "auth",
	famJWT:     "jwt",
	famAWS:     "aws",
	famGCP:     "gcp",
	famAzure:   "azure",
	famGitHub:  "github",
	famGitLab:  "gitlab",
	famSlack:   "slack",
	famStripe:  "stripe",
	famPEM:     "pem",
	famCard:    "card",
	famToken:   "token",
	famPattern: "pattern",
	famEmail:   "email",
	famIP:      "ip",
	famPhone:   "phone",
}

// String returns the family's metric label.
func (f family) String() string { return familyNames[f] }

// Extra byte predicates for token bodies.
func isAlnum(c byte) bool      { return cls[c]&cAlnum != 0 }
func isWordDash(c byte) bool   { return cls[c]&cWord != 0 || c == '-' }
func isTokDot(c byte) bool     { return cls[c]&cWord != 0 || c == '-' || c == '.' || c == '=' }
func isUpperDig(c byte) bool   { return cls[c]&(cUpper|cDigit) != 0 }
func isLowerHex(c byte) bool   { return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') }
func isLetter(c byte) bool     { return cls[c]&cAlpha != 0 }
func isB64(c byte) bool        { return cls[c]&cB64 != 0 }
func isLowerAlnum(c byte) bool { return ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') }
func isSlackBody(c byte) bool  { return cls[c]&cAlnum != 0 || c == '-' || c == '.' }
func isHookBody(c byte) bool {
	return cls[c]&cAlnum != 0 || c == '/' || c == '+' || c == '_' || c == '-'
}

// maxTokenLen caps the body a token rule looks at. No token format is
// longer, and the cap keeps a line full of near-misses ("ABSK/ABSK/...")
// linear.
const maxTokenLen = 4096

// minTokenLen is the length of the shortest token matchTokenFormat accepts
// (xox?- and ten more bytes), and tokInside the bytes outside
// [A-Za-z0-9_.-] that a token format accepts in its prefix or body. A word
// (a run of [A-Za-z0-9_.-]) shorter than minTokenLen can only start a
// token when one of those bytes follows it, so most words skip
// matchToken.
const minTokenLen = 15

var tokInside [256]bool

// tokPrefixes are the first two bytes of every token format
// matchTokenFormat knows ('*': any second byte, for the Discord bot
// tokens, which start with base64 of a user id). TestTokenPrefixes checks
// the list against the literals in matchTokenFormat.
var tokPrefixes = []string{
	"AK", "AS", "AB", "AC", "A3", "AI", "AG", "AP", "AQ", "CL", "EA", "EZ", "FL", "GR", "HR", "LT",
	"NR", "M*", "N*", "O*", "PM", "SK", "SG", "ZX", "_g", "4b", "ap", "be", "cm",
	"da", "do", "dp", "dt", "dn", "du", "ey", "fo", "fm", "fi", "gh", "gi", "gl", "hf", "hv", "ho",
	"ic", "li", "np", "nt", "op", "p8", "py", "ps", "pn", "pu", "pp", "pa", "pk", "rk", "ru", "rd",
	"sk", "sh", "sn", "sm", "sq", "sg", "s-", "s.", "sa", "tk", "tf", "te", "v1", "wh",
	"xo", "xa", "xk", "xs",
}

// tokSecond[c] is the set of second bytes (all ASCII) of the token
// formats that start with c: one table lookup rejects most words.
var tokSecond [256][2]uint64

func init() {
	for _, p := range tokPrefixes {
		if p[1] == '*' {
			tokSecond[p[0]] = [2]uint64{^uint64(0), ^uint64(0)}
		} else {
			tokSecond[p[0]][p[1]>>6] |= 1 << (p[1] & 63)
		}
	}
	for _, c := range "+/=~" {
		tokInside[c] = true
	}
}

// tokPrefixOK reports whether a token format starts with c0, c1.
func tokPrefixOK(c0, c1 byte) bool {
	return c1 < 0x80 && tokSecond[c0][c1>>6]&(1<<(c1&63)) != 0
}

// prefixed matches prefix p at i followed by a body of at least minLen bytes for
// which ok holds (at most maxLen when maxLen > 0), ending at a word boundary. It
// returns the end of the token or 0.
func prefixed(s []byte, i, hi int, p string, ok func(byte) bool, minLen, maxLen int) int {
	if !hasPrefixAt(s, i, hi, p) {
		return 0
	}
	return body(s, i, hi, len(p), ok, minLen, maxLen)
}

// body is prefixed for a prefix of length plen already checked by the caller.
func body(s []byte, i, hi, plen int, ok func(byte) bool, minLen, maxLen int) int {
	b := i + plen
	e := runFn(s, b, min(hi, b+maxTokenLen), ok)
	if e-b < minLen || (maxLen > 0 && e-b > maxLen) || !boundaryAfter(s, e, hi) {
		return 0
	}
	return e
}

// exact is prefixed with a body of exactly n bytes.
func exact(s []byte, i, hi int, p string, ok func(byte) bool, n int) int {
	return prefixed(s, i, hi, p, ok, n, n)
}

// matchToken matches the token formats real services issue, at a word start
// i. It returns the end of the token and its family, or 0. Every check is a
// literal prefix followed by a character-class run and a length check: no
// regular expression runs here.
func matchToken(s []byte, i, hi int) (int, family) {
	e, f := matchTokenFormat(s, i, hi)
	for e > i && s[e-1] == '.' {
		e-- // the end of a sentence, not of the token
	}
	if e > 0 && lowVariety(s[e-min(e-i, 16):e]) {
		return 0, famNone // a placeholder: ghp_xxxxxxxxxxxxxxxx
	}
	return e, f
}

func matchTokenFormat(s []byte, i, hi int) (int, family) {
	if hi-i < 8 || !tokPrefixOK(s[i], s[i+1]) {
		return 0, famNone
	}
	var e int
	switch s[i] {
	case 'A':
		if hasPrefixAt(s, i, hi, "AKIA") || hasPrefixAt(s, i, hi, "ASIA") || hasPrefixAt(s, i, hi, "ABIA") ||
			hasPrefixAt(s, i, hi, "ACCA") || (hasPrefixAt(s, i, hi, "A3T") && isUpperDig(s[i+3])) {
			if e = body(s, i, hi, 4, isUpperDig, 16, 16); e > 0 {
				return e, famAWS
			}
		}
		if e = prefixed(s, i, hi, "AIza", isWordDash, 30, 0); e > 0 {
			return e, famGCP
		}
		if e = prefixed(s, i, hi, "AGE-SECRET-KEY-1", isUpperDig, 50, 0); e > 0 {
			return e, famToken
		}
		if e = prefixed(s, i, hi, "ABSK", isB64, 100, 0); e > 0 {
			return e, famAWS
		}
		if e = prefixed(s, i, hi, "AKCp", isAlnum, 60, 0); e > 0 {
			return e, famToken
		}
		if e = exact(s, i, hi, "API-", isUpperDig, 26); e > 0 {
			return e, famToken
		}
		if e = prefixed(s, i, hi, "AQVN", isWordDash, 33, 40); e > 0 {
			return e, famToken
		}
		if hasPrefixAt(s, i, hi, "A3-") {
			// 1Password secret key: A3-XXXXXX-XXXXXX-XXXXX-XXXXX-XXXXX-XXXXX
			e = runFn(s, i+3, hi, func(c byte) bool { return isUpperDig(c) || c == '-' })
			if e-i >= 30 && countByte(s[i:e], '-') >= 4 && boundaryAfter(s, e, hi) {
				return e, famToken
			}
		}
	case 'C':
		if e = prefixed(s, i, hi, "CLOJARS_", isAlnum, 50, 0); e > 0 {
			return e, famToken
		}
	case 'E':
		if hasPrefixAt(s, i, hi, "EAAM") || hasPrefixAt(s, i, hi, "EAAC") {
			if e = body(s, i, hi, 4, isAlnum, 90, 0); e > 0 {
				return e, famToken
			}
		}
		if e = prefixed(s, i, hi, "EAAA", isWordDash, 56, 64); e > 0 && mixedCase(s[i:e]) {
			return e, famToken
		}
		if hasPrefixAt(s, i, hi, "EZAK") || hasPrefixAt(s, i, hi, "EZTK") {
			if e = body(s, i, hi, 4, isAlnum, 50, 0); e > 0 {
				return e, famToken
			}
		}
	case 'F':
		for _, p := range [...]string{"FLWSECK_TEST-", "FLWPUBK_TEST-", "FLWSECK-", "FLWPUBK-"} {
			if e = prefixed(s, i, hi, p, isWordDash, 12, 0); e > 0 {
				return e, famToken
			}
		}
	case 'G':
		if e = prefixed(s, i, hi, "GR1348941", isWordDash, 20, 0); e > 0 {
			return e, famGitLab
		}
	case 'H':
		if e = prefixed(s, i, hi, "HRKU-", isWordDash, 30, 0); e > 0 {
			return e, famToken
		}
	case 'L':
		if e = exact(s, i, hi, "LTAI", isAlnum, 20); e > 0 {
			return e, famToken
		}
	case 'N':
		for _, p := range [...]string{"NRAK-", "NRJS-", "NRII-", "NRAA-"} {
			if e = prefixed(s, i, hi, p, isWordDash, 19, 0); e > 0 {
				return e, famToken
			}
		}
		if e = matchDiscordBot(s, i, hi); e > 0 {
			return e, famToken
		}
	case 'M', 'O':
		// Discord bot token: base64(user id).timestamp.hmac
		if e = matchDiscordBot(s, i, hi); e > 0 {
			return e, famToken
		}
	case 'P':
		if e = prefixed(s, i, hi, "PMAK-", func(c byte) bool { return isHex(c) || c == '-' }, 50, 0); e > 0 {
			return e, famToken
		}
	case 'S':
		if e = exact(s, i, hi, "SK", isHex, 32); e > 0 {
			return e, famToken
		}
		if e = prefixed(s, i, hi, "SG.", isTokDot, 60, 0); e > 0 && countByte(s[i+3:e], '.') >= 1 {
			return e, famToken
		}
	case 'Z':
		if e = prefixed(s, i, hi, "ZXlK", isB64, 40, 0); e > 0 {
			return e, famJWT
		}
	case '_':
		if e = prefixed(s, i, hi, "_gitlab_session=", isLowerAlnum, 32, 0); e > 0 {
			return e, famGitLab
		}
	case '4':
		if e = exact(s, i, hi, "4b1d", isAlnum, 38); e > 0 {
			return e, famToken
		}
	case 'a':
		if e = prefixed(s, i, hi, "api_org_", isLetter, 30, 0); e > 0 {
			return e, famToken
		}
	case 'b':
		if e = prefixed(s, i, hi, "bedrock-api-key-", isB64, 20, 0); e > 0 {
			return e, famAWS
		}
	case 'c':
		if e = prefixed(s, i, hi, "cmVmd", isAlnum, 55, 0); e > 0 {
			return e, famToken
		}
	case 'd':
		if e = prefixed(s, i, hi, "dapi", isHex, 32, 32); e > 0 {
			return e, famToken
		}
		if hasPrefixAt(s, i, hi, "dapi") && hi-i >= 38 && runFn(s, i+4, i+36, isHex) == i+36 &&
			s[i+36] == '-' && isDigit(s[i+37]) && boundaryAfter(s, i+38, hi) {
			return i + 38, famToken
		}
		for _, p := range [...]string{"dop_v1_", "doo_v1_", "dor_v1_"} {
			if e = prefixed(s, i, hi, p, isHex, 64, 0); e > 0 {
				return e, famToken
			}
		}
		if hasPrefixAt(s, i, hi, "dp.") {
			// Doppler: dp.pt., dp.st., dp.sa., dp.ct., dp.scim., dp.audit.
			j := runFn(s, i+3, hi, isLetter)
			if j < hi && s[j] == '.' && j-i-3 <= 5 {
				// service tokens carry the config name: dp.st.prd.<token>
				if k := runFn(s, j+1, hi, isWordDash); k < hi && s[k] == '.' && k-j-1 <= 32 {
					j = k
				}
				if e = runFn(s, j+1, hi, isAlnum); e-j-1 >= 40 && boundaryAfter(s, e, hi) {
					return e, famToken
				}
			}
		}
		if e = prefixed(s, i, hi, "dt0c01.", isTokDot, 80, 0); e > 0 {
			return e, famToken
		}
		if e = prefixed(s, i, hi, "dnkey-", isWordDash, 70, 0); e > 0 {
			return e, famToken
		}
		for _, p := range [...]string{"duffel_test_", "duffel_live_"} {
			if e = prefixed(s, i, hi, p, isTokDot, 40, 0); e > 0 {
				return e, famToken
			}
		}
	case 'e':
		if e = prefixed(s, i, hi, "eyJrIjoi", isB64, 60, 0); e > 0 {
			return e, famToken
		}
		if e = matchJWT(s, i, hi); e > 0 {
			return e, famJWT
		}
	case 'f':
		if e = prefixed(s, i, hi, "fo1_", isWordDash, 40, 0); e > 0 {
			return e, famToken
		}
		for _, p := range [...]string{"fm1a_", "fm1r_", "fm2_"} {
			if e = prefixed(s, i, hi, p, isB64, 100, 0); e > 0 {
				return e, famToken
			}
		}
		if e = prefixed(s, i, hi, "fio-u-", isTokDot, 60, 0); e > 0 {
			return e, famToken
		}
	case 'g':
		if hi-i > 4 && s[i+1] == 'h' && s[i+3] == '_' {
			switch s[i+2] {
			case 'p', 'o', 'u', 's', 'r':
				if e = body(s, i, hi, 4, isAlnum, 30, 0); e > 0 {
					return e, famGitHub
				}
			}
		}
		if e = prefixed(s, i, hi, "github_pat_", isWordDash, 60, 0); e > 0 {
			return e, famGitHub
		}
		if hasPrefixAt(s, i, hi, "gl") {
			for _, p := range [...]string{"glpat-", "gldt-", "glft-", "glimt-", "glagent-", "gloas-",
				"glrt-", "glcbt-", "glsoat-", "glffct-", "glptt-", "glimt-", "glsa_", "glc_"} {
				if e = prefixed(s, i, hi, p, isTokDot, 20, 0); e > 0 {
					if p == "glsa_" || p == "glc_" {
						return e, famToken // Grafana
					}
					return e, famGitLab
				}
			}
		}
	case 'h':
		if e = prefixed(s, i, hi, "hf_", isLetter, 30, 0); e > 0 && mixedCase(s[i+3:e]) {
			return e, famToken
		}
		if e = prefixed(s, i, hi, "hvs.", isWordDash, 90, 0); e > 0 {
			return e, famToken
		}
		if e = prefixed(s, i, hi, "hvb.", isWordDash, 90, 0); e > 0 {
			return e, famToken
		}
		if e = prefixed(s, i, hi, "hvr.", isWordDash, 60, 0); e > 0 {
			return e, famToken
		}
		if hasPrefixAt(s, i, hi, "hooks.slack.com/") {
			for _, p := range [...]string{"hooks.slack.com/services/", "hooks.slack.com/workflows/", "hooks.slack.com/triggers/"} {
				if e = prefixed(s, i, hi, p, isHookBody, 20, 0); e > 0 {
					return e, famSlack
				}
			}
		}
	case 'i':
		if e = exact(s, i, hi, "ico-", isAlnum, 32); e > 0 {
			return e, famToken
		}
	case 'l':
		if e = prefixed(s, i, hi, "lin_api_", isAlnum, 40, 0); e > 0 {
			return e, famToken
		}
		if e = exact(s, i, hi, "live_", isHex, 35); e > 0 {
			return e, famToken
		}
		if e = exact(s, i, hi, "live_pub_", isHex, 31); e > 0 {
			return e, famToken
		}
	case 'n':
		if e = exact(s, i, hi, "npm_", isAlnum, 36); e > 0 {
			return e, famToken
		}
		if e = prefixed(s, i, hi, "ntn_", isAlnum, 40, 0); e > 0 {
			return e, famToken
		}
	case 'o':
		if e = prefixed(s, i, hi, "ops_eyJ", isB64, 200, 0); e > 0 {
			return e, famToken
		}
	case 'p':
		if e = prefixed(s, i, hi, "p8e-", isAlnum, 32, 0); e > 0 {
			return e, famToken // Adobe client secret
		}
		if e = prefixed(s, i, hi, "pypi-AgE", isWordDash, 50, 0); e > 0 {
			return e, famToken
		}
		for _, p := range [...]string{"pscale_tkn_", "pscale_oauth_", "pscale_pw_"} {
			if e = prefixed(s, i, hi, p, isTokDot, 30, 0); e > 0 {
				return e, famToken
			}
		}
		if e = exact(s, i, hi, "pnu_", isAlnum, 36); e > 0 {
			return e, famToken
		}
		if e = exact(s, i, hi, "pul-", isHex, 40); e > 0 {
			return e, famToken
		}
		if e = prefixed(s, i, hi, "pplx-", isAlnum, 40, 0); e > 0 {
			return e, famToken
		}
		if e = matchDotted(s, i, hi, "pat."); e > 0 {
			return e, famToken
		}
		if e = matchMapbox(s, i, hi, "pk."); e > 0 {
			return e, famToken
		}
	case 'r':
		for _, p := range [...]string{"rk_live_", "rk_test_", "rk_prod_"} {
			if e = prefixed(s, i, hi, p, isAlnum, 10, 0); e > 0 {
				return e, famStripe
			}
		}
		if e = prefixed(s, i, hi, "rubygems_", isHex, 48, 0); e > 0 {
			return e, famToken
		}
		if e = prefixed(s, i, hi, "rdme_", isAlnum, 60, 0); e > 0 {
			return e, famToken
		}
	case 's':
		return matchS(s, i, hi)
	case 't':
		if e = prefixed(s, i, hi, "tk-us-", isWordDash, 40, 0); e > 0 {
			return e, famToken
		}
		if e = prefixed(s, i, hi, "tfp_", isTokDot, 50, 0); e > 0 {
			return e, famToken
		}
		if e = exact(s, i, hi, "test_", isHex, 35); e > 0 {
			return e, famToken
		}
		if e = exact(s, i, hi, "test_pub_", isHex, 31); e > 0 {
			return e, famToken
		}
	case 'v':
		if hasPrefixAt(s, i, hi, "v1.0-") {
			if e = runFn(s, i+5, hi, func(c byte) bool { return isHex(c) || c == '-' }); e-i >= 150 && boundaryAfter(s, e, hi) {
				return e, famToken
			}
		}
	case 'w':
		if e = prefixed(s, i, hi, "whsec_", isB64, 24, 0); e > 0 {
			return e, famStripe
		}
	case 'x':
		if hasPrefixAt(s, i, hi, "xox") && hi-i > 5 && s[i+4] == '-' {
			switch s[i+3] {
			case 'a', 'b', 'e', 'o', 'p', 'r', 's':
				if e = runFn(s, i+5, hi, isSlackBody); e-i >= 15 && boundaryAfter(s, e, hi) && hasDigit(s[i+5:e]) {
					return e, famSlack
				}
			}
		}
		if hasPrefixAt(s, i, hi, "xoxe.xox") {
			if e = runFn(s, i+10, hi, isSlackBody); e-i >= 30 && boundaryAfter(s, e, hi) {
				return e, famSlack
			}
		}
		if e = prefixed(s, i, hi, "xapp-", isSlackBody, 20, 0); e > 0 {
			return e, famSlack
		}
		if e = prefixed(s, i, hi, "xkeysib-", isWordDash, 60, 0); e > 0 {
			return e, famToken
		}
		if e = prefixed(s, i, hi, "xsmtpsib-", isWordDash, 60, 0); e > 0 {
			return e, famToken
		}
	}
	return 0, famNone
}

func matchS(s []byte, i, hi int) (int, family) {
	var e int
	if hasPrefixAt(s, i, hi, "sk") || hasPrefixAt(s, i, hi, "rk") {
		for _, p := range [...]string{"sk_live_", "sk_test_", "sk_prod_"} {
			if e = prefixed(s, i, hi, p, isAlnum, 10, 0); e > 0 {
				return e, famStripe
			}
		}
		if hasPrefixAt(s, i, hi, "sk-") {
			// OpenAI (sk-..., sk-proj-..., sk-svcacct-..., sk-admin-...),
			// Anthropic (sk-ant-api03-..., sk-ant-admin01-...) and the
			// many "sk-" keys that copy them.
			if e = runFn(s, i+3, hi, isWordDash); e-i >= 40 && boundaryAfter(s, e, hi) && hasDigit(s[i+3:e]) && hasLetter(s[i+3:e]) {
				return e, famToken
			}
		}
		if e = matchMapbox(s, i, hi, "sk."); e > 0 {
			return e, famToken
		}
	}
	for _, p := range [...]string{"shpat_", "shpca_", "shppa_", "shpss_"} {
		if e = prefixed(s, i, hi, p, isHex, 32, 0); e > 0 {
			return e, famToken
		}
	}
	if e = prefixed(s, i, hi, "sntrys_eyJ", isTokB64, 50, 0); e > 0 {
		return e, famToken
	}
	if e = prefixed(s, i, hi, "sntryu_", isHex, 64, 0); e > 0 {
		return e, famToken
	}
	for _, p := range [...]string{"sm_aat_", "sm_pat_", "sm_sat_"} {
		if e = prefixed(s, i, hi, p, isAlnum, 16, 0); e > 0 {
			return e, famToken
		}
	}
	for _, p := range [...]string{"shippo_live_", "shippo_test_"} {
		if e = prefixed(s, i, hi, p, isHex, 40, 0); e > 0 {
			return e, famToken
		}
	}
	for _, p := range [...]string{"sq0atp-", "sq0csp-"} {
		if e = prefixed(s, i, hi, p, isWordDash, 22, 0); e > 0 {
			return e, famToken
		}
	}
	for _, p := range [...]string{"sqp_", "squ_", "sqa_"} {
		if e = prefixed(s, i, hi, p, isAlnum, 40, 0); e > 0 {
			return e, famToken // SonarQube
		}
	}
	if e = prefixed(s, i, hi, "sha256~", isWordDash, 40, 0); e > 0 {
		return e, famToken
	}
	if hasPrefixAt(s, i, hi, "sgp_") {
		if e = runFn(s, i+4, hi, func(c byte) bool { return isAlnum(c) || c == '_' }); e-i >= 44 && boundaryAfter(s, e, hi) {
			return e, famToken
		}
	}
	for _, p := range [...]string{"s-s4t2ud-", "s-s4t2af-"} {
		if e = prefixed(s, i, hi, p, isHex, 64, 0); e > 0 {
			return e, famToken
		}
	}
	if e = exact(s, i, hi, "s.", isAlnum, 24); e > 0 && mixedCase(s[i+2:e]) && hasDigit(s[i+2:e]) {
		return e, famToken // HashiCorp Vault service token, legacy format
	}
	if e = matchDotted(s, i, hi, "sat."); e > 0 {
		return e, famToken
	}
	return 0, famNone
}

func isTokB64(c byte) bool { return cls[c]&(cB64|cB64URL) != 0 }

func countByte(b []byte, c byte) int {
	n := 0
	for _, x := range b {
		if x == c {
			n++
		}
	}
	return n
}

func hasDigit(b []byte) bool {
	for _, c := range b {
		if isDigit(c) {
			return true
		}
	}
	return false
}

func hasLetter(b []byte) bool {
	for _, c := range b {
		if isLetter(c) {
			return true
		}
	}
	return false
}

func mixedCase(b []byte) bool {
	var up, lo bool
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			lo = true
		case 'A' <= c && c <= 'Z':
			up = true
		}
	}
	return up && lo
}

func isJWTChar(c byte) bool { return cls[c]&cWord != 0 || c == '-' }

// matchJWT matches header.payload.signature where header and payload are
// base64url JSON ("ey...") and the signature may be empty.
func matchJWT(s []byte, i, hi int) int {
	if !hasPrefixAt(s, i, hi, "ey") {
		return 0
	}
	e1 := runFn(s, i+2, hi, isJWTChar)
	if e1-i < 12 || e1+3 >= hi || s[e1] != '.' || s[e1+1] != 'e' || s[e1+2] != 'y' {
		return 0
	}
	e2 := runFn(s, e1+3, hi, isJWTChar)
	if e2-e1-1 < 12 || e2 >= hi || s[e2] != '.' {
		return 0
	}
	e3 := runFn(s, e2+1, hi, func(c byte) bool { return isJWTChar(c) || c == '=' })
	if !boundaryAfter(s, e3, hi) {
		return 0
	}
	return e3
}

// matchDotted matches Harness tokens: p + 22 . 24 . 20 (lengths at least).
func matchDotted(s []byte, i, hi int, p string) int {
	if !hasPrefixAt(s, i, hi, p) {
		return 0
	}
	a := runFn(s, i+len(p), hi, isWordDash)
	if a-i-len(p) < 18 || a >= hi || s[a] != '.' {
		return 0
	}
	b := runFn(s, a+1, hi, isAlnum)
	if b-a-1 < 20 || b >= hi || s[b] != '.' {
		return 0
	}
	c := runFn(s, b+1, hi, isAlnum)
	if c-b-1 < 16 || !boundaryAfter(s, c, hi) {
		return 0
	}
	return c
}

// matchMapbox matches pk.<60+>.<20+> and sk.<60+>.<20+>.
func matchMapbox(s []byte, i, hi int, p string) int {
	if !hasPrefixAt(s, i, hi, p) {
		return 0
	}
	a := runFn(s, i+3, hi, isAlnum)
	if a-i-3 < 50 || a >= hi || s[a] != '.' {
		return 0
	}
	b := runFn(s, a+1, hi, isWordDash)
	if b-a-1 < 20 || !boundaryAfter(s, b, hi) {
		return 0
	}
	return b
}

// matchDiscordBot matches a Discord bot token: base64 of a numeric user id,
// a dot, 6 bytes of timestamp, a dot and 27 or more bytes of HMAC.
func matchDiscordBot(s []byte, i, hi int) int {
	a := runFn(s, i, hi, isAlnum)
	if a-i < 23 || a-i > 28 || a >= hi || s[a] != '.' {
		return 0
	}
	// The first part decodes to decimal digits: base64 of "1" to "9"
	// starts with M, N or O, and every 4-byte group decodes to digits.
	var buf [21]byte
	n, ok := decodeB64(buf[:], s[i:a-(a-i)%4])
	if !ok || n < 15 {
		return 0
	}
	for _, c := range buf[:n] {
		if !isDigit(c) {
			return 0
		}
	}
	b := runFn(s, a+1, hi, isWordDash)
	if b-a-1 < 6 || b-a-1 > 7 || b >= hi || s[b] != '.' {
		return 0
	}
	c := runFn(s, b+1, hi, isWordDash)
	if c-b-1 < 27 || !boundaryAfter(s, c, hi) {
		return 0
	}
	return c
}

// decodeB64 decodes standard or URL base64 (no padding needed) into dst,
// stopping when dst is full. It reports false on a byte that is not base64.
func decodeB64(dst []byte, src []byte) (int, bool) {
	n := 0
	var acc uint32
	bits := 0
	for _, c := range src {
		var v byte
		switch {
		case 'A' <= c && c <= 'Z':
			v = c - 'A'
		case 'a' <= c && c <= 'z':
			v = c - 'a' + 26
		case '0' <= c && c <= '9':
			v = c - '0' + 52
		case c == '+' || c == '-':
			v = 62
		case c == '/' || c == '_':
			v = 63
		case c == '=':
			return n, true
		default:
			return n, false
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 8 {
			bits -= 8
			if n == len(dst) {
				return n, true
			}
			dst[n] = byte(acc >> uint(bits))
			n++
		}
	}
	return n, true
}
