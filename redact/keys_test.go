package redact

import "testing"

func TestClassifyKey(t *testing.T) {
	tab := newWordTable([]string{"pin", "x-acme-sig"}, []string{"session_token"})
	cases := []struct {
		key  string
		want keyClass
	}{
		// sensitive, across spellings
		{"password", kSecret}, {"Password", kSecret}, {"PASSWORD", kSecret}, {"db_password", kSecret},
		{"dbPassword", kSecret}, {"DB-PASSWORD", kSecret}, {"dbpassword", kSecret}, {"passwd", kSecret},
		{"pass", kSecret}, {"db_pwd", kSecret}, {"userPw", kSecret}, {"passphrase", kSecret},
		{"secret", kSecret}, {"client_secret", kSecret}, {"clientSecret", kSecret}, {"client-secret", kSecret},
		{"SECRET_ACCESS_KEY", kSecret}, {"aws_secret_access_key", kSecret}, {"secretKey", kSecret},
		{"api_key", kSecret}, {"apiKey", kSecret}, {"APIKey", kSecret}, {"X-Api-Key", kSecret}, {"apikey", kSecret},
		{"access_token", kSecret}, {"accessToken", kSecret}, {"X-Auth-Token", kSecret}, {"id_token", kSecret},
		{"refreshToken", kSecret}, {"token", kSecret}, {"githubToken", kSecret}, {"oauth2Token", kSecret},
		{"private_key", kSecret}, {"privateKey", kSecret}, {"credentials", kSecret}, {"jwt", kSecret},
		{"session_id", kSecret}, {"sessionid", kSecret}, {"csrf_token", kSecret}, {"AccountKey", kSecret},
		{"x-amz-security-token", kSecret}, {"X-Amz-Signature", kSecret}, {"sig", kSecret},
		{"stripe_key", kSecret}, {"herokuKey", kSecret}, {"1passwordToken", kSecret},
		{"postmanAPItokenToken", kSecret}, {"imagePullSecretJfrog.password", kSecret},
		{"password_reset_token", kSecret}, {"MessageBirdClientID", kSecret},
		{"Authorization", kAuth}, {"proxy-authorization", kAuth}, {"auth", kAuth},
		{"Cookie", kCookie}, {"Set-Cookie", kCookie},
		{"card_number", kCard}, {"cardNumber", kCard}, {"cvv", kCard},
		{"session", kWeak}, {"sourcegraph", kWeak}, {"key", kWeak},
		// policy extras
		{"user_pin", kSecret}, {"pinCode", kSecret}, {"X-Acme-Sig", kSecret}, {"session_token", kNone},
		// benign: qualifiers, lead words, look-alikes
		{"token_count", kNone}, {"prompt_tokens", kNone}, {"max_tokens", kNone}, {"tokens_used", kNone},
		{"password_changed", kNone}, {"password_expires_in_days", kNone}, {"has_api_key", kNone},
		{"auth_method", kNone}, {"token_type", kNone}, {"secret_name", kNone}, {"api_key_id", kNone},
		{"key_id", kNone}, {"public_key_fingerprint", kNone}, {"public_key", kNone}, {"author", kNone},
		{"oauth_provider", kNone}, {"passenger", kNone}, {"bypass", kNone}, {"keyboard", kNone},
		{"tokenizer", kNone}, {"next_page_token", kNone}, {"nextPageToken", kNone}, {"NextToken", kNone},
		{"continuation_token", kNone}, {"cancellationToken", kNone}, {"token_endpoint", kNone},
		{"auth_time", kNone}, {"auth_user", kNone}, {"password_file", kNone}, {"is_secret", kNone},
		{"request_id", kNone}, {"trace_id", kNone}, {"PWD", kSecret}, {"OLDPWD", kNone}, {"GPG_KEY", kNone},
		{"client_id", kNone}, {"username", kNone}, {"jwt_kid", kNone}, {"session_duration_ms", kNone},
		{"ts", kNone}, {"msg", kNone}, {"", kNone},
	}
	for _, c := range cases {
		if got := tab.classify([]byte(c.key)).class(); got != c.want {
			t.Errorf("classify(%q) = %d, want %d", c.key, got, c.want)
		}
	}
	// PWD alone is sensitive only for values that are not paths.
	if !tab.classify([]byte("PWD")).noPath() {
		t.Error("PWD: noPath not set")
	}
	for _, k := range []string{"ts", "time", "epoch_ms", "order_id", "created_at", "seq"} {
		if !tab.classify([]byte(k)).idLike() {
			t.Errorf("%s: not idLike", k)
		}
	}
}

func TestClassifyKeyAllocs(t *testing.T) {
	tab := newWordTable(nil, nil)
	key := []byte("aws_secret_access_key")
	if n := testing.AllocsPerRun(100, func() { tab.classify(key) }); n != 0 {
		t.Errorf("classify allocates %v times", n)
	}
}
