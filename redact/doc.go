// Package redact masks secrets in log lines before they are stored or sent:
// in the plugin it wraps each stream's writer in front of the ring
// (NewWriter), so `docker logs` and every sink see masked lines; in
// `logship redact` it is a stdin→stdout filter with the same engine and the
// same options.
//
// # Use
//
//	pol, err := redact.ParsePolicy(logOpts, os.Getenv) // every problem at once
//	m, err := redact.New(pol, metrics)                 // once per policy (~60 µs)
//	w := redact.NewWriter(ringWriter, m)               // per stream
//	attrs = m.Attrs(attrs)                             // labels and env
//	err = m.Filter(os.Stdin, os.Stdout)                // logship redact
//
// A Masker is immutable after New and safe for concurrent use. A Stream (one
// per log stream, used by one goroutine) adds the state a PEM private key
// printed line by line needs. AppendLine appends the masked line to a
// buffer; a line that needs no change is reported unchanged and costs no
// allocation, so the caller keeps the original bytes.
//
// # Guarantees
//
//   - One line in, one line out, in order; nothing but secrets changes.
//   - Valid JSON in gives valid JSON out: strings are masked inside their
//     quotes, an object or array under a sensitive key becomes a JSON
//     string, and no replacement contains a quote, a backslash or a
//     control byte. Valid UTF-8 stays valid UTF-8.
//   - Masking is idempotent: masking masked output changes nothing (the
//     replacements are recognised and never look like a secret, and what
//     a rule consumed the first time is consumed again). The one
//     exception: a line that is not valid JSON and becomes valid JSON
//     when masked is read as JSON the second time.
//   - No regular expression runs per line. The line is scanned once:
//     tokenised as JSON when it is JSON (keys classified as they are read,
//     every string value scanned as text), else scanned as text. In text,
//     each word costs a table lookup on its first byte (token formats), a
//     check of the byte after it (key=value separators, "://") and, for
//     digits, the card check; the rare candidates are confirmed by
//     character-class runs, lengths, Luhn, base64 decoding. Only the
//     policy's own patterns are regular expressions. Hostile lines (many
//     near-misses, unbalanced quotes) stay linear: see TestHostileLines.
//   - Request ids, trace ids, UUIDs, hashes and digests (sha256:...), git
//     SHAs, timestamps (epoch milli- and nanoseconds included), counters
//     (token_count: 512) and booleans (password_changed: false), base64
//     cursors, public keys and certificates, versions and ordinary words
//     ("password reset email sent") are left as written.
//
// # Rule families
//
// Each masked secret is counted in logship_redact_secrets_total{rule=...}
// (all families exist, at 0, from New on); lines with at least one in
// logship_redact_lines_changed_total.
//
//   - key: the value of a sensitive key: JSON keys at any depth, key=value,
//     key: value, key := "value", key => value, <key>value</key>,
//     setProperty("KEY", "value"), query parameters (?api_key=...), HTTP
//     header dumps (X-Api-Key: ...), environment dumps, connection strings
//     (Password=...;), name/value pairs ({"name":"DB_PASSWORD","value":...},
//     <add key="Password" value="..."/>), Kubernetes Secret manifests
//     (data: and stringData: values), command-line flags (--password x).
//     Key names are split into word parts (snake, kebab, camel, dotted)
//     and matched case-insensitively: password, passwd, pwd, secret, token,
//     api key, access key, private key, client secret, credentials, auth,
//     authorization, cookie, session id, jwt, signature, card number, cvv
//     and more, plus "<service> key" for some 200 service names (stripe_key).
//     A benign qualifier after the sensitive part (token_count,
//     password_changed, auth_method, secret_name, api_key_id, token_url)
//     or a benign word before it (has_api_key, next_page_token) makes the
//     key ordinary. Numbers, booleans and null under a sensitive key are
//     kept, as are empty values, placeholders (${VAR}, $VAR, <token>, ***)
//     and ordinary words (password: required). A whole object or array
//     under a sensitive key is masked. Authorization values keep their
//     scheme (Bearer [REDACTED]); Cookie values are masked whole.
//   - url: the password of URL userinfo (scheme://user:password@host) and
//     of curl -u / --user user:password.
//   - auth: Authorization header credentials, and "Bearer <token>" /
//     "Basic <base64 of user:password>" wherever they appear.
//   - jwt, aws, gcp, azure, github, gitlab, slack, stripe, token: token
//     formats found by literal prefix and checked by character class and
//     length: AWS key ids (AKIA, ASIA, ...) and the secret key printed
//     next to one, Bedrock keys, GCP API keys, Azure AD client secrets,
//     GitHub (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_), GitLab (glpat-,
//     glrt-, gldt-, ...), Slack tokens and webhooks, Stripe (sk_live_,
//     rk_live_, whsec_), JWTs and base64-wrapped JWTs, and some 90 more
//     formats of the gitleaks catalogue (npm_, pypi-, SG., hvs., dp.pt.,
//     dapi, shpat_, sntryu_, xkeysib-, lin_api_, sk-ant-, sk-proj-, ...),
//     Teams and Discord webhook URLs. Placeholders with few distinct
//     characters (ghp_xxxx...) are not masked.
//   - pem: the body of a PEM private key (any "... PRIVATE KEY" label),
//     on one line (escaped newlines) or, through a Stream, on the lines
//     between BEGIN and END. Public keys and certificates are kept.
//   - card: 13 to 19 digits, in one run or grouped by spaces or dashes,
//     with a card issuer prefix (4, 51-55, 2221-2720, 34, 37, 35, 36, 38,
//     39, 30, 6011, 644-649, 65, 62) and a valid Luhn digit, in text and as
//     JSON numbers; not under id, time or counter keys. Epoch milli- and
//     nanoseconds start with 1, which no issuer uses.
//   - pattern: matches of the policy's patterns.
//   - email, ip, phone: personal data, masked only when redact-pii asks.
//
// # Replacements
//
//   - mask (default): [REDACTED]
//   - partial: **** followed by the last four characters when the secret
//     has 12 bytes or more and they are ASCII letters or digits
//     (****1111); otherwise ****.
//   - hash: [hmac-3f9a1c2b4d5e]: the first 12 hex digits of
//     HMAC-SHA256(key, secret), so that equal secrets stay correlatable
//     without being revealed; JSON escapes are hashed as the text they
//     stand for. The key comes from the file named by redact-hash-key-file
//     or the plugin env REDACT_HASH_KEY (16 to 4096 bytes), never from a
//     log-opt value.
//
// An Authorization value keeps its scheme word; a private key keeps its
// BEGIN and END lines.
//
// # Options
//
// ParsePolicy reads these log-opts (plugin-wide defaults come from the
// plugin's LOG_OPTS; per-container log-opts override them):
//
//	redact                true (default) or false
//	redact-mode           mask (default), partial, hash
//	redact-keys           extra sensitive key names, comma-separated, matched like the built-ins
//	redact-patterns       extra RE2 patterns, separated by white space; a pattern with a
//	                      capture group masks only the group (token=(\w+) keeps "token=")
//	redact-patterns-file  a file inside the plugin with one RE2 pattern per line
//	                      (# comments, blank lines skipped): for patterns with spaces or ';'
//	redact-allow          literal values never masked, comma-separated
//	redact-allow-keys     key names never sensitive, comma-separated
//	redact-pii            comma-separated subset of email, ip, phone, or all
//	redact-hash-key-file  a file inside the plugin holding the HMAC key
//
// White space separates patterns because it is the one separator a secret
// pattern never needs unescaped (write \s or \x20); commas, semicolons and
// bars are all common in regular expressions. Errors name the option and
// what it accepts and never repeat the value; they wrap
// pipeline.ErrInvalidOption.
//
// # Cost of user patterns
//
// Patterns are compiled once, in New. A pattern with a literal prefix
// (acme_live_[A-Za-z0-9]{24}) is gated by one substring search per line and
// costs about 70 ns on a line without the prefix; a pattern without one
// ([A-Z]{3}-\d{6}-[A-Z]{3}) runs on every text line and on every JSON
// string value and costs about 1.05 µs per line, three times the rest of
// the masker (BenchmarkBenignPatternPrefixed, BenchmarkBenignPatternNoPrefix:
// 414 and 1463 ns/op against 353). Start patterns with a literal where you
// can. At most 64 patterns.
//
// # Measured
//
// On ../shared/corpus (development half), with the filter program of this
// package:
//
//	go build -o /tmp/redactfilter ./redact/internal/cmd/redactfilter
//	python3 ../shared/corpus/score.py ../shared/corpus/secrets-dev.jsonl \
//	    ../shared/corpus/benign-dev.jsonl -- /tmp/redactfilter
//	recall=100.00% (4239/4239) benign_unchanged=100.00% (4400/4400) rate=687262 lines/s
//
// (the rate includes process start and the pipes.) TestCorpus checks the
// same with the bars recall ≥ 99.5% and unchanged ≥ 99.9%; TestHeldOut
// covers key spellings and token formats the corpus lacks. On the
// true-positive samples of all 220 gitleaks rules, wrapped like the corpus
// (6,393 lines, not in this repository), recall was 100.00% too.
//
// Speed on one core (AMD EPYC, Go 1.26), one line per iteration, the
// output buffer reused as the plugin does:
//
//	go test ./redact -run '^$' -bench 'Benign$|Secrets$|BenchJSON' -cpu 1 -benchtime 3s
//	BenchmarkBenign         353 ns/op  0 B/op  0 allocs/op  ≈ 2.8 M lines/s (131-byte lines)
//	BenchmarkSecrets        562 ns/op  0 B/op  0 allocs/op  ≈ 1.8 M lines/s (243-byte lines)
//	BenchmarkBenchJSON      736 ns/op  0 B/op  0 allocs/op  ≈ 1.4 M lines/s (make bench's
//	                        300-byte JSON lines, three secrets each)
//	BenchmarkBenchJSONClean 520 ns/op  (the same lines without secrets)
//
// These moved by 5–7 % (from 349, 521, 687 and 500) when the value walker
// was replaced by pipeline.SkipJSON, code that the BenchJSON lines never run; the
// in-process pipeline (BenchmarkPipelineSecrets) moved by 1.5 %.
//
// New costs about 60 µs. The hash mode allocates a little per secret (the
// HMAC state is pooled).
//
// # Limits
//
//   - A secret with neither a sensitive key nor a known format in free text
//     ("the password is hunter2") is not found; add a pattern.
//   - A record that is a piece of a longer line (Partial) is masked on its
//     own: a secret cut by the line-size limit may survive in two halves.
//   - Only PEM blocks are followed across lines; other multi-line values
//     (a YAML block scalar printed line by line) are not.
//   - A Luhn-valid number with a card prefix in free text is masked even
//     if it is an order number; under an id-like key it is kept.
//   - Stop words ("password: required") and the type of a value decide some
//     cases: a password that is literally "required" is kept.
package redact
