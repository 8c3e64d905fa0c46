package redact

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestHeldOut is a hand-made held-out set: key spellings and token formats
// that the development corpus does not have, each in a JSON line, a JSON
// message, a text line and a header or env form. It guards against tuning
// the rules to the corpus strings. Tokens are generated (see rnd).
func TestHeldOut(t *testing.T) {
	m := mustNew(t, Policy{})
	keys := []string{
		"X-Auth-Token", "dbPassword", "SECRET_ACCESS_KEY", "client-secret", "apiSecret", "PRIVATE_KEY",
		"mysql_root_password", "REDIS_PASS", "smtpPassword", "ldap.bind.password", "oauth_refresh_token",
		"x-goog-api-key", "Ocp-Apim-Subscription-Key", "X-Shopify-Access-Token", "DD_API_KEY", "VAULT_TOKEN",
		"jwtSecret", "signing_key", "encryptionKey", "webhook-secret", "passphrase", "master_key",
		"AZURE_CLIENT_SECRET", "GOOGLE_APPLICATION_CREDENTIALS_JSON", "NPM_TOKEN", "sessionToken", "csrfToken",
	}
	var failures []string
	for _, k := range keys {
		v := rnd(6, alnum) + "!" + rnd(10, alnum)
		forms := []string{
			jsonLine(map[string]any{"msg": "config", k: v}),
			jsonLine(map[string]any{"msg": "config", "nested": map[string]any{"svc": map[string]any{k: v}}}),
			jsonLine(map[string]any{"msg": k + "=" + v + " loaded"}),
			fmt.Sprintf("2026-11-21T12:27:13Z INFO %s=%s retries=3", k, v),
			fmt.Sprintf("2026-11-21T12:27:13Z DEBUG > %s: %s", k, v),
			fmt.Sprintf(`2026-11-21T12:27:13Z INFO %s = "%s"`, k, v),
		}
		for _, f := range forms {
			if out := maskStr(m, f); leaks(out, []string{v}) {
				failures = append(failures, f+"\n   -> "+out)
			}
		}
	}
	tokens := map[string]string{
		"azure-ad":        rnd(3, alnum) + "8Q~" + rnd(34, alnum),
		"gcp":             "AIza" + rnd(35, alnum),
		"twilio":          "SK" + rnd(32, lowhex),
		"shopify":         "shpat_" + rnd(32, lowhex),
		"shopify-shared":  "shpss_" + rnd(32, lowhex),
		"vault-service":   "hvs." + rnd(95, alnum),
		"vault-batch":     "hvb." + rnd(140, alnum),
		"doppler":         "dp.pt." + rnd(43, alnum),
		"doppler-service": "dp.st.prd." + rnd(40, alnum),
		"databricks":      "dapi" + rnd(32, lowhex),
		"planetscale":     "pscale_tkn_" + rnd(43, alnum),
		"planetscale-pw":  "pscale_pw_" + rnd(43, alnum),
		"npm":             "npm_" + rnd(36, alnum),
		"pypi":            "pypi-AgEIcHlwaS5vcmc" + rnd(70, alnum),
		"openai":          "sk-proj-" + rnd(58, alnum) + "T3BlbkFJ" + rnd(58, alnum),
		"anthropic":       "sk-ant-api03-" + rnd(93, alnum) + "AA",
		"sendgrid":        "SG." + rnd(22, alnum) + "." + rnd(43, alnum),
		"github-fine":     "github_pat_" + rnd(22, alnum) + "_" + rnd(59, alnum),
		"github-oauth":    "gho_" + rnd(36, alnum),
		"gitlab-runner":   "glrt-" + rnd(20, alnum),
		"slack-user":      "xoxp-" + rnd(11, "0123456789") + "-" + rnd(11, "0123456789") + "-" + rnd(12, "0123456789") + "-" + rnd(32, lowhex),
		"slack-app":       "xapp-1-A" + rnd(10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") + "-" + rnd(13, "0123456789") + "-" + rnd(64, lowhex),
		"stripe-restrict": "rk_live_" + rnd(24, alnum),
		"stripe-webhook":  "whsec_" + rnd(32, alnum),
		"huggingface":     "hf_" + rnd(34, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
		"linear":          "lin_api_" + rnd(40, alnum),
		"sentry-user":     "sntryu_" + rnd(64, lowhex),
		"grafana-sa":      "glsa_" + rnd(32, alnum) + "_" + rnd(8, lowhex),
		"newrelic":        "NRAK-" + rnd(27, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
		"postman":         "PMAK-" + rnd(24, lowhex) + "-" + rnd(34, lowhex),
		"digitalocean":    "dop_v1_" + rnd(64, lowhex),
		"flyio":           "fo1_" + rnd(43, alnum),
		"age":             "AGE-SECRET-KEY-1" + rnd(58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"),
		"aws-sts":         "ASIA" + rnd(16, upper32),
		"mailchimp":       rnd(32, lowhex) + "-us14",
		"jwt":             "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJpc3MiOiJodHRwczovL2F1dGgifQ." + rnd(86, alnum+"-_"),
		"teams-webhook":   "https://acme.webhook.office.com/webhookb2/" + rnd(36, lowhex) + "@" + rnd(36, lowhex) + "/IncomingWebhook/" + rnd(32, lowhex) + "/" + rnd(36, lowhex),
		"discord-webhook": "https://discord.com/api/webhooks/1234567890123456789/" + rnd(68, alnum),
	}
	for name, tok := range tokens {
		secret := tok
		if strings.HasPrefix(tok, "https://") {
			secret = tok[strings.LastIndexByte(tok, '/')+1:]
		}
		forms := []string{
			"2026-11-21T12:27:13Z ERROR request with " + tok + " failed",
			jsonLine(map[string]any{"msg": "using credential " + tok}),
			jsonLine(map[string]any{"value": tok, "kind": name}),
			"export SOME_SETTING=" + tok,
		}
		for _, f := range forms {
			if out := maskStr(m, f); leaks(out, []string{secret}) {
				failures = append(failures, name+": "+f+"\n   -> "+out)
			}
		}
	}
	// More places secrets hide in: URLs of other schemes, query
	// parameters, headers, curl.
	pw := rnd(12, alnum)
	more := []string{
		"mongodb+srv://admin:" + pw + "@cluster0.example.mongodb.net/db",
		"amqps://svc:" + pw + "@mq.internal:5671/vhost",
		"redis://:" + pw + "@cache:6379/0",
		`{"url":"https://user:` + pw + `@example.com/path?x=1"}`,
		"GET /v1/files?X-Amz-Credential=AKIDEXAMPLE&X-Amz-Signature=" + pw + " HTTP/1.1",
		"GET /cb?code=abc&client_secret=" + pw + "&state=xyz HTTP/1.1",
		"proxy-authorization: Basic " + b64(rnd(5, alnum)+":"+pw),
		`curl -H "X-Api-Key: ` + pw + `" https://api.example.com`,
		`curl --user "deploy:` + pw + `" https://registry.example.com`,
		`mysql --password=` + pw + ` --host db`,
		`{"headers":{"x-api-key":"` + pw + `"}}`,
		`[{"Name":"DB_PASSWORD","Value":"` + pw + `"}]`,
		`<add key="ClearTextPassword" value="` + pw + `" />`,
	}
	for _, f := range more {
		if out := maskStr(m, f); leaks(out, []string{pw}) {
			failures = append(failures, f+"\n   -> "+out)
		}
	}
	for _, f := range failures {
		t.Errorf("survived: %s", f)
	}
}

func jsonLine(v map[string]any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
