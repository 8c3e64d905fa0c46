package redact

import "testing"

// TestSurvivors: what real logs are full of and must come out byte-identical:
// request and trace ids, UUIDs, hashes and digests, timestamps and counters,
// and the words "password", "token" and "secret" in messages.
func TestSurvivors(t *testing.T) {
	m := mustNew(t, Policy{})
	lines := []string{
		// request, trace and span ids
		`{"level":"info","msg":"request handled","request_id":"90f26b82-fe91-5329-1785-7e0831e5554e","X-Request-ID":"4f1c2e9a8b7d4e3f"}`,
		`{"trace_id":"952cb98dca28e0ce790d02ba68e2b292","span_id":"1699fd1dd3e61f5f","traceparent":"00-c59a61378b3dda8d874ea8e941ac9159-083d8f37af9e4e0d-01"}`,
		`traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 tracestate: rojo=00f067aa0ba902b7`,
		`trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7 msg="db query" rows=12`,
		`GET /api/v1/health 200 3ms request_id=7c7dfb97-3c71-7d51-fd42-f4580c2e6430`,
		`ulid=01HF8Z3K4M5N6P7Q8R9S0T1V2W correlationId=b27b6240a79e15065673b0fd575ac446`,
		// hashes and digests
		`{"commit":"9ec6cf92d28aa609010ed439ec92010c4a377247","short":"9ec6cf9","version":"1.21.6"}`,
		`{"image":"registry.example.com/api@sha256:b3aa12271b96b06dcbaed2394b339f5696c9481b353f66d8282ee83d260b16b5","container_id":"40615a78ebae1124a73497e98615c87cb3d2be9db66d41eed3c3a7643fa41206"}`,
		`{"md5":"6bbff85e8065aa8d5970de0caba0a865","sha256":"6b98d7e477ad9508a840c478e916c8597ad72dbf09e537a35709fd35de867be9","etag":"\"33a64df551425fcc55e4d42a148795d9f25f89d4\""}`,
		`pulled docker.io/library/nginx@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855`,
		`Accepted publickey for deploy from 10.0.0.5 port 52344 ssh2: RSA SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s`,
		// timestamps and counters
		`{"ts":"2026-11-26T22:40:08.805Z","msg":"tick","epoch_ms":1738154558475,"epoch_ns":1739677332037755221}`,
		`1786208336658 processed batch of 4042 events in 173ms`,
		`time_nano=1720239361449025677 seq=940310029 offset=9999999999999`,
		`{"timestamp":1718000000123,"created_at":"2026-11-20T08:36:33.407Z","duration_ns":123456789}`,
		`{"prompt_tokens":504,"completion_tokens":862,"max_tokens":1024,"token_count":1427,"usage":{"total_tokens":1366}}`,
		`{"order_id":4111111111111111,"invoice":"INV-4111111111111111"}`,
		`order 5661023661 shipped to zone 3, tracking 1ZJVRVPX3RCQOVS6J9`,
		// auth words and flags
		`{"msg":"password reset email sent","user_id":518820}`,
		`{"msg":"authorization failed: no credentials","user_id":640238}`,
		`{"msg":"invalid token supplied","user_id":23148}`,
		`{"password_changed":true,"password_expires_in_days":56,"has_api_key":true,"auth_method":"oauth","token_type":"Bearer"}`,
		`{"password":"","token":null,"secret":true,"api_key":"${API_KEY}","pwd":"/home/app"}`,
		`login failed: invalid password for user 1234`,
		`password: required`,
		`Invalid password: too short`,
		`error: token expired`,
		`WARN Missing Authorization header for /api/orders`,
		`missing Bearer token in request`,
		`{"jwt_alg":"RS256","jwt_kid":"db8d673040043698","jwt_iss":"https://auth.example.com/","token_endpoint":"https://idp/token"}`,
		// cursors, public keys, versions, names
		`{"cursor":"eyJwYWdlIjogMjYsICJhZnRlciI6IDQ4MDE3MX0=","next_page_token":"eyJvZmZzZXQiOjEwMH0=","NextToken":"AbCdEf123456789XyZ"}`,
		`{"key_id":"kid-rb0ymctk","alg":"RS256","public_key_fingerprint":"e7:44:db:85:2d:67:51:1f:29:aa:bc:79:b7:a6:46:81"}`,
		`-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----`,
		`-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa\n-----END CERTIFICATE-----`,
		`ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7kqZl deploy@ci`,
		`go1.26.8 linux/amd64 build=2f588c9ef449 pid=51057 version=1.2.3-rc.1+9ec6cf9`,
		`{"pod":"api-acdb576e-yc56j","node":"ip-10-0-94-32.ec2.internal","namespace":"prod"}`,
		// access logs, stack traces, SQL, URLs without credentials
		`172.18.2.132 - - [27/Nov/2026:05:34:45 +0000] "GET /static/app.0718ecd6.js?v=9 HTTP/1.1" 200 33311 "-" "Mozilla/5.0 (X11; Linux x86_64)"`,
		`main.(*Server).handle(0xc000317ec6, {0x80fffa0d, 0xc000b058fb}) goroutine 875`,
		"\tat com.example.orders.OrderService.place(OrderService.java:197)",
		`{"sql":"SELECT id, name FROM users WHERE created_at > $1 LIMIT 345","duration_ms":5348}`,
		`{"url":"https://api.example.com/v2/items?page=3&sort=desc&fields=id,name"}`,
		`connected to postgres at db:5432 (pool size 10) as user app`,
		`env: PATH=/usr/bin HOME=/root PWD=/srv/app OLDPWD=/ HOSTNAME=a1b2c3d4e5f6 GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D`,
		`{"cache_key":"user:123:profile","key":"uploads/2026/11/a1b2c3.png","i18n_key":"checkout.pay_now"}`,
		`{"card_brand":"visa","card_last4":"4242","card_exp_year":2029}`,
		`Received signal: terminated. Shutting down...`,
		`{"msg":"é ü 日本語 password reset"}`,
	}
	for _, l := range lines {
		if out, changed := m.AppendLine(nil, []byte(l)); changed {
			t.Errorf("changed:\n in: %s\nout: %s", l, out)
		}
	}
}

// TestZeroAllocUnchanged: a line that needs no change costs no allocation.
func TestZeroAllocUnchanged(t *testing.T) {
	m := mustNew(t, Policy{})
	st := m.NewStream()
	rows := loadCorpus(t, "benign-dev.jsonl")
	lines := make([][]byte, 0, len(rows))
	for _, r := range rows {
		lines = append(lines, []byte(r.Line))
	}
	k := 0
	n := testing.AllocsPerRun(2000, func() {
		st.AppendLine(nil, lines[k%len(lines)])
		k++
	})
	if n != 0 {
		t.Errorf("%v allocations per unchanged line", n)
	}
}
