package redact

// Key names are classified by their word parts. A key is split at every byte
// that is not a letter or digit, at lower→upper case changes (dbPassword),
// before the last capital of a capital run that is followed by a small
// letter (APIKey → API Key) and at letter↔digit changes (oauth2Token). The
// parts are folded to lower case into a stack buffer, without separators,
// so that any run of adjacent parts is a contiguous byte slice: "api","key"
// is looked up as "apikey", which covers api_key, apiKey, API-KEY, x-api-key
// and apikey alike. Runs of up to maxWindow parts are looked up in one small
// open-addressing table; a bigram filter on the first two letters of a part
// skips the lookups for the parts of ordinary keys (ts, level, msg,
// duration_ms), so a key costs a few nanoseconds and never allocates.
//
// A key is sensitive when one of its part runs is a sensitive word, unless
// the last sensitive run is followed by a benign qualifier
// (token_count, password_changed, auth_method, secret_name) or the key starts
// with a benign lead word (has_api_key, is_secret). A part that merely ends
// with password, secret or token (dbpassword, githubtoken) is sensitive too.

// keyClass is what a key name says about its value.
type keyClass uint8

const (
	kNone   keyClass = iota
	kSecret          // the value is a secret: mask it whole
	kAuth            // an Authorization-like header: keep the scheme word (Bearer, Basic, ...)
	kCookie          // a Cookie header: the value runs to the end of the header
	kCard            // card data: numbers are masked too
	kWeak            // a bare service name: mask the value only if it looks random
)

// keyInfo is the classification of one key: its class in the low bits and
// flags above. It is one integer so that it passes through calls and the
// key cache in one register.
type keyInfo uint16

const (
	kiClass keyInfo = 7 // the keyClass
	// kiIDLike: an id, time or counter name: digits under it are never
	// card numbers.
	kiIDLike keyInfo = 1 << (iota + 2)
	// kiName: "name" or "key" of a name/value pair
	// ({"name":"DB_PASSWORD","value":...}).
	kiName
	// kiValue: "value" of a name/value pair.
	kiValue
	// kiNoPath: the key is PWD or PW alone, which in an environment dump
	// is the working directory: a value that is a path is kept.
	kiNoPath
	// kiStrict: a weak key that is a bare "key": only values that look
	// random in every way (both cases and digits) are masked.
	kiStrict
)

func (k keyInfo) class() keyClass              { return keyClass(k & kiClass) }
func (k keyInfo) withClass(c keyClass) keyInfo { return k&^kiClass | keyInfo(c) }
func (k keyInfo) sensitive() bool              { return k&kiClass != 0 }
func (k keyInfo) idLike() bool                 { return k&kiIDLike != 0 }
func (k keyInfo) name() bool                   { return k&kiName != 0 }
func (k keyInfo) value() bool                  { return k&kiValue != 0 }
func (k keyInfo) noPath() bool                 { return k&kiNoPath != 0 }
func (k keyInfo) strict() bool                 { return k&kiStrict != 0 }

// Word tags.
const (
	tSecret uint16 = 1 << iota
	tAuth
	tCookie
	tCard
	tWeak
	tPwd      // sensitive only inside a longer key: PWD alone is the working directory
	tVendor   // a service name: "<vendor> key" is sensitive
	tVendorB  // a distinctive service name: a bare "<vendor>" key is weak
	tKey      // "key", "keys": sensitive after a vendor name
	tQual     // benign qualifier after the sensitive part
	tLead     // benign lead word
	tIDLike   // id, time and counter names
	tAllow    // a key name the policy never masks (whole key)
	tUserKey  // an extra key name from the policy
	tVendorID // clientid, accessid: sensitive right after a vendor name
	tPre      // benign modifier right before the sensitive part: next_page_token, cancellation_token

	tSensitive = tSecret | tAuth | tCookie | tCard | tWeak | tPwd | tUserKey
	tFilter    = tSensitive | tVendor | tVendorB | tKey | tVendorID
)

const (
	maxKeyBuf = 128 // longest key (letters and digits) that is classified
	maxParts  = 24
	maxWindow = 4 // longest run of parts looked up as one word
)

var builtinWords = map[uint16][]string{
	tSecret: {
		"password", "passwords", "passwd", "passwrd", "pass", "passphrase", "passcode", "pword",
		"secret", "secrets", "token", "apikey", "apikeys", "apitoken", "apisecret",
		"accesskey", "accesskeys", "accesstoken", "secretkey", "privatekey", "privkey",
		"clientsecret", "credential", "credentials", "creds", "jwt", "bearer",
		"sessionid", "sessiontoken", "sessionkey", "sessionsecret", "sessid", "phpsessid", "jsessionid",
		"csrf", "xsrf", "mnemonic", "seedphrase",
		"masterkey", "encryptionkey", "encryptkey", "decryptionkey", "signingkey", "signkey",
		"hmackey", "hmacsecret", "accountkey", "sharedkey", "sharedaccesskey", "sharedsecret",
		"authkey", "appkey", "appsecret", "applicationkey", "consumerkey", "consumersecret",
		"licensekey", "subscriptionkey", "adminkey", "rootkey", "deploykey", "webhooksecret",
		"signature", "sig", "contribsys", "dsnpassword", "ingestkey", "writekey", "serverkey", "cred",
		"otpsecret", "totpsecret", "recoverycode", "recoverycodes", "backupcodes", "sonarlogin",
	},
	tPwd:    {"pwd", "pw"},
	tAuth:   {"auth", "authorization", "proxyauthorization", "authz"},
	tCookie: {"cookie", "cookies", "setcookie"},
	tCard: {
		"cardnumber", "cardnum", "cardno", "ccnumber", "ccnum", "ccno", "creditcard",
		"creditcardnumber", "cvv", "cvc", "cvv2", "cvc2", "cardcvv", "cardcvc", "cardsecuritycode",
		"primaryaccountnumber",
	},
	tWeak:     {"session"},
	tKey:      {"key", "keys"},
	tVendorID: {"clientid", "accessid", "appid", "apiid"},
	tPre: {
		// Pagination and flow-control tokens are cursors, not
		// credentials (Google's nextPageToken, AWS's NextToken).
		"page", "nextpage", "next", "prev", "previous", "continuation", "pagination", "cursor",
		"resume", "sync", "marker", "cancel", "cancellation", "lexer", "parser", "parse", "starting",
		"after", "before", "scroll", "paging",
		"syntax", "tokenizer", "bos", "eos", "pad", "unk", "sep", "cls", "mask", "special",
	},
	tQual: {
		"id", "ids", "uuid", "guid", "count", "counts", "cnt", "num", "number", "numbers",
		"type", "types", "kind", "name", "names", "label", "labels", "length", "len", "size",
		"limit", "limits", "max", "min", "used", "usage", "remaining", "left",
		"expiry", "expires", "expire", "expired", "expiration", "exp", "expiresin", "expiresat",
		"ttl", "lifetime", "age", "at", "time", "times", "ts", "timestamp", "date", "day", "days",
		"hour", "hours", "minute", "minutes", "second", "seconds", "secs", "sec", "ms",
		"created", "createdat", "updated", "updatedat", "changed", "change", "changes", "set", "reset",
		"rotated", "rotation", "rotate", "required", "require", "requires", "enabled", "enable",
		"disabled", "disable", "valid", "validity", "invalid", "present", "missing", "provided",
		"supplied", "status", "state", "method", "methods", "scheme", "mode", "version", "versions",
		"path", "paths", "file", "files", "filename", "dir", "directory", "url", "uri", "endpoint",
		"endpoints", "prefix", "suffix", "hint", "policy", "policies", "format", "source", "index",
		"idx", "fingerprint", "algorithm", "alg", "field", "fields", "strength", "attempts",
		"attempt", "retries", "retry", "error", "errors", "failed", "failure", "failures", "ok",
		"success", "sent", "check", "checks", "checked", "verified", "verify", "verification",
		"last", "first", "provider", "providers", "issuer", "audience", "scope", "scopes",
		"location", "level", "rule", "rules", "ref", "refs", "arn", "manager", "placeholder",
		"user", "users", "username", "usernames", "email", "login", "role", "roles", "group",
		"groups", "domain", "realm", "server", "host", "hostname", "port", "service", "services",
		"store", "vault", "owner", "namespace", "region", "zone", "bucket", "table", "column",
		"kid", "iss", "sub", "subject", "aud", "iat", "nbf", "jti", "claims", "issuedat",
		"template", "variable", "reference", "mount", "backend", "engine", "ttlseconds",
		"length", "complexity", "pattern", "regex", "generated", "issued", "issuedat", "lastused",
		"request", "requested", "rejected", "accepted", "mismatch", "match", "matched", "found",
	},
	tLead: {
		"has", "is", "use", "uses", "using", "enable", "enabled", "disable", "require", "requires",
		"required", "num", "max", "min", "total", "no", "without", "with", "should", "needs",
		"need", "can", "missing", "invalid", "valid", "count", "nb", "allow", "allowed", "show",
		"skip", "ignore", "mask", "masked", "redact", "redacted", "hide", "hidden", "print", "public",
	},
	tIDLike: {
		"id", "ids", "uuid", "guid", "ts", "t", "time", "timestamp", "epoch", "ms", "ns", "us",
		"nanos", "nano", "millis", "milli", "micros", "micro", "seq", "sequence", "offset",
		"count", "number", "num", "no", "nr", "index", "idx", "version", "size", "bytes", "at",
		"date", "tracking", "serial", "port", "pid", "uid", "gid", "line", "duration",
	},
}

// Service names from the gitleaks catalogue and other common APIs. With a
// "key" part after them they make a sensitive key (stripe_key, herokuKey).
var vendorWords = []string{
	"adafruit", "adobe", "airtable", "algolia", "alibaba", "aliyun", "anthropic", "artifactory",
	"asana", "atlassian", "confluence", "jira", "authress", "aws", "azure", "beamer", "bitbucket",
	"bittrex", "clickhouse", "clojars", "cloudflare", "codecov", "cohere", "coinbase", "confluent",
	"contentful", "databricks", "datadog", "dd", "digitalocean", "discord", "doppler", "droneci",
	"dropbox", "duffel", "dynatrace", "easypost", "etsy", "facebook", "fb", "fastly", "finicity",
	"finnhub", "flickr", "flutterwave", "flyio", "frameio", "freemius", "freshbooks", "gcp",
	"google", "github", "gh", "gitlab", "gitter", "gocardless", "grafana", "harness", "hashicorp",
	"heroku", "hubspot", "huggingface", "hf", "infracost", "intercom", "intra42", "jfrog",
	"bintray", "kraken", "kucoin", "launchdarkly", "linear", "linkedin", "lob", "looker",
	"mailchimp", "mailgun", "mapbox", "mattermost", "maxmind", "meraki", "messagebird", "netlify",
	"newrelic", "nr", "notion", "npm", "nuget", "nytimes", "octopus", "okta", "openai", "openshift",
	"perplexity", "plaid", "planetscale", "pscale", "postman", "prefect", "privateai", "pulumi",
	"pypi", "rapidapi", "readme", "rubygems", "scalingo", "sendbird", "sendgrid", "sendinblue",
	"brevo", "sentry", "settlemint", "shippo", "shopify", "sidekiq", "slack", "snyk", "sonar",
	"sonarqube", "sourcegraph", "square", "squarespace", "stripe", "sumo", "sumologic",
	"telegram", "travis", "travisci", "trello", "twilio", "twitch", "twitter", "typeform", "vault",
	"yandex", "zendesk", "pagerduty", "opsgenie", "circleci", "bugsnag", "rollbar", "honeycomb",
	"mixpanel", "amplitude", "auth0", "firebase", "supabase", "vercel", "pinecone", "mistral",
	"groq", "gemini", "replicate", "elastic", "algoliasearch", "segment", "posthog", "docker",
	"dockerhub", "quay", "snowflake", "mongodb", "atlas", "redis", "rabbitmq", "smtp", "ses",
	"mandrill", "postmark", "sparkpost", "mailjet", "nexmo", "vonage", "plivo", "paypal",
	"braintree", "adyen", "razorpay", "paystack", "klarna", "checkout", "mollie", "recaptcha",
	"hcaptcha", "turnstile", "onesignal", "pusher", "ably", "agora", "zoom", "webex", "dropboxapi",
}

// Service names that are not ordinary English words: a key that is nothing
// but such a name ("sourcegraph": "...") is weak-sensitive.
var distinctiveVendors = []string{
	"adafruit", "airtable", "algolia", "alibaba", "anthropic", "artifactory", "asana", "atlassian",
	"bitbucket", "bittrex", "clickhouse", "clojars", "cloudflare", "codecov", "cohere", "coinbase",
	"confluent", "contentful", "databricks", "datadog", "digitalocean", "discord", "doppler",
	"droneci", "dropbox", "duffel", "dynatrace", "easypost", "etsy", "fastly", "finicity",
	"finnhub", "flickr", "flutterwave", "flyio", "frameio", "freemius", "freshbooks", "gitter",
	"gocardless", "grafana", "hashicorp", "heroku", "hubspot", "huggingface", "infracost",
	"intercom", "jfrog", "kucoin", "launchdarkly", "linkedin", "looker", "mailchimp", "mailgun",
	"mapbox", "mattermost", "maxmind", "meraki", "messagebird", "netlify", "newrelic", "nytimes",
	"okta", "openai", "perplexity", "planetscale", "pulumi", "rapidapi", "rubygems", "scalingo",
	"sendbird", "sendgrid", "sendinblue", "settlemint", "shippo", "shopify", "sidekiq", "snyk",
	"sourcegraph", "squarespace", "sumologic", "telegram", "travisci", "trello", "twilio",
	"typeform", "yandex", "zendesk",
}

// Suffixes that make a single lower-case part sensitive (dbpassword,
// githubtoken, clientsecret).
var sensitiveSuffixes = []string{
	"password", "passwd", "passphrase", "secret", "token", "apikey", "accesskey", "secretkey",
	"privatekey",
}

type wordSlot struct {
	hash uint32
	tag  uint16
	word string
}

// wordTable is an open-addressing hash table of lower-case words with tags,
// plus a filter on the first two letters of the words that can make a key
// sensitive.
type wordTable struct {
	slots  []wordSlot
	mask   uint32
	filter [37 * 37]bool
	// hasAllow is set when the policy lists allowed key names, so that the
	// whole-key lookup is skipped otherwise.
	hasAllow bool
}

func fnv(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

func bigramCode(c byte) int {
	switch {
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 1
	case '0' <= c && c <= '9':
		return int(c-'0') + 27
	}
	return 0
}

func bigram(w []byte) int {
	if len(w) == 0 {
		return 0
	}
	b := bigramCode(w[0]) * 37
	if len(w) > 1 {
		b += bigramCode(w[1])
	}
	return b
}

func newWordTable(extraKeys, allowKeys []string) *wordTable {
	words := map[string]uint16{}
	for tag, list := range builtinWords {
		for _, w := range list {
			words[w] |= tag
		}
	}
	for _, w := range vendorWords {
		words[w] |= tVendor
	}
	for _, w := range distinctiveVendors {
		words[w] |= tVendor | tVendorB
	}
	for _, k := range extraKeys {
		if w := normalizeKeyName(k); w != "" {
			words[w] |= tUserKey
		}
	}
	t := &wordTable{}
	for _, k := range allowKeys {
		if w := normalizeKeyName(k); w != "" {
			words[w] |= tAllow
			t.hasAllow = true
		}
	}
	size := 1
	for size < 4*len(words) {
		size <<= 1
	}
	t.slots = make([]wordSlot, size)
	t.mask = uint32(size - 1)
	for w, tag := range words {
		h := fnv([]byte(w))
		for i := h & t.mask; ; i = (i + 1) & t.mask {
			if t.slots[i].word == "" {
				t.slots[i] = wordSlot{hash: h, tag: tag, word: w}
				break
			}
		}
		if tag&tFilter != 0 {
			t.filter[bigram([]byte(w))] = true
			// A part may be the tail of a camel-case capital run that
			// was split early ("APItoken" → "AP", "Itoken"): the suffix
			// check covers those, the filter need not.
		}
	}
	return t
}

func (t *wordTable) lookup(w []byte) uint16 {
	h := fnv(w)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.word == "" {
			return 0
		}
		if s.hash == h && s.word == string(w) {
			return s.tag
		}
	}
}

// normalizeKeyName folds a configured key name to the form the table holds:
// its letters and digits in lower case, separators dropped.
func normalizeKeyName(k string) string {
	b := make([]byte, 0, len(k))
	for i := 0; i < len(k); i++ {
		c := k[i]
		if cls[c]&cAlnum != 0 {
			b = append(b, lower(c))
		}
	}
	return string(b)
}

// keyParts is a key split into parts, folded to lower case.
type keyParts struct {
	buf  [maxKeyBuf]byte
	offs [maxParts + 1]uint8
	n    int // parts
}

func (p *keyParts) part(i int) []byte    { return p.buf[p.offs[i]:p.offs[i+1]] }
func (p *keyParts) span(i, j int) []byte { return p.buf[p.offs[i]:p.offs[j+1]] }
func (p *keyParts) all() []byte          { return p.buf[:p.offs[p.n]] }

// split fills p from key. It reports false for a key too long to be a name.
func (p *keyParts) split(key []byte) bool {
	const (
		none = iota
		lo
		up
		dig
	)
	n, np := 0, 0
	start := 0
	prev := none
	for _, c := range key {
		var k int
		switch {
		case 'a' <= c && c <= 'z':
			k = lo
		case 'A' <= c && c <= 'Z':
			k = up
			c += 'a' - 'A'
		case '0' <= c && c <= '9':
			k = dig
		default:
			prev = none
			continue
		}
		if n == maxKeyBuf {
			return false
		}
		newPart := prev == none ||
			(k == up && prev == lo) ||
			((k == dig) != (prev == dig))
		if newPart {
			if np == maxParts {
				return false
			}
			p.offs[np] = uint8(n)
			start = n
			np++
		} else if k == lo && prev == up && n-start >= 2 {
			// "APIKey": the capital before the first small letter
			// starts the next part.
			if np == maxParts {
				return false
			}
			p.offs[np] = uint8(n - 1)
			start = n - 1
			np++
		}
		p.buf[n] = c
		n++
		prev = k
	}
	p.n = np
	p.offs[np] = uint8(n)
	return np > 0
}

// classify returns what key says about its value. It does not allocate.
func (t *wordTable) classify(key []byte) keyInfo {
	var ki keyInfo
	switch len(key) {
	case 3:
		if equalFold(key, "key") {
			ki |= kiName
		}
	case 4:
		if equalFold(key, "name") {
			ki |= kiName
		}
	case 5:
		if equalFold(key, "value") {
			ki |= kiValue
		}
	}
	var p keyParts
	if !p.split(key) {
		return ki
	}
	if t.lookup(p.part(p.n-1))&tIDLike != 0 {
		ki |= kiIDLike
	}
	if t.hasAllow && t.lookup(p.all())&tAllow != 0 {
		return ki
	}
	bestEnd, bestStart := -1, -1
	var bestTag uint16
	vendorEnd := -2
	for i := 0; i < p.n; i++ {
		part := p.part(i)
		if t.filter[bigram(part)] {
			for j := i; j < p.n && j < i+maxWindow; j++ {
				tag := t.lookup(p.span(i, j))
				if tag == 0 {
					continue
				}
				if tag&(tVendor) != 0 && j > vendorEnd {
					vendorEnd = j
				}
				if tag&tKey != 0 && i == j && vendorEnd == i-1 {
					tag |= tSecret
				}
				if tag&tVendorID != 0 && vendorEnd == i-1 {
					tag |= tSecret
				}
				if tag&tPwd != 0 && p.n == 1 {
					ki |= kiNoPath
				}
				if tag&tSensitive != 0 && j >= bestEnd {
					if j > bestEnd || tag&^tWeak != 0 {
						bestTag = tag
					}
					bestEnd, bestStart = j, i
				}
			}
		}
		if bestEnd < i && len(part) > 5 && hasSensitiveSuffix(part) {
			bestTag, bestEnd, bestStart = tSecret, i, i
		}
	}
	if bestEnd < 0 {
		if p.n == 1 {
			tag := t.lookup(p.part(0))
			switch {
			case tag&tVendorB != 0:
				ki = ki.withClass(kWeak)
			case tag&tKey != 0:
				ki = ki.withClass(kWeak) | kiStrict
			}
		}
		return ki
	}
	for k := bestEnd + 1; k < p.n; k++ {
		if t.lookup(p.part(k))&tQual != 0 {
			return ki
		}
	}
	if bestStart > 0 && t.lookup(p.part(0))&tLead != 0 {
		return ki
	}
	if bestStart > 0 && t.lookup(p.part(bestStart-1))&tPre != 0 {
		return ki
	}
	switch {
	case bestTag&tCard != 0:
		ki = ki.withClass(kCard)
	case bestTag&tCookie != 0:
		ki = ki.withClass(kCookie)
	case bestTag&tAuth != 0:
		ki = ki.withClass(kAuth)
	case bestTag&(tSecret|tPwd|tUserKey) != 0:
		ki = ki.withClass(kSecret)
	case bestTag&tWeak != 0:
		ki = ki.withClass(kWeak)
	}
	return ki
}

func hasSensitiveSuffix(part []byte) bool {
	switch part[len(part)-1] {
	case 'd', 'e', 't', 'n', 'y':
	default:
		return false
	}
	for _, s := range sensitiveSuffixes {
		if len(part) > len(s) && string(part[len(part)-len(s):]) == s {
			return true
		}
	}
	return false
}
