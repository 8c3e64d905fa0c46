package e2e

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// plantedSecrets are printed by the container; none may reach docker logs
// or the plugin's data folder.
var plantedSecrets = []string{
	"Tr0ub4dor-3-horse-battery",
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
	"AKIAZ5T2Q6N7R3K4W8XY",
	"ghp_R8kz3QmVx7LpN2wY5tJ9cB4hF6dS1aG0eUiO",
	"MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
	"4111111111111111",
	"S3cretPassw0rdInURL",
	"EnvSecretValue-12345",
}

// benignLines must come back byte for byte.
var benignLines = []string{
	`{"level":"info","msg":"request handled","request_id":"90f26b82-fe91-4329-9785-7e0831e5554e","status":200}`,
	`{"msg":"span","traceparent":"00-c59a61378b3dda8d874ea8e941ac9159-083d8f37af9e4e0d-01"}`,
	`pulled image registry.example.com/api@sha256:b3aa12271b96b06dcbaed2394b339f5696c9481b353f66d8282ee83d260b16b5`,
	`tick epoch_ms=1738154558475 token_count=512 password_changed=false`,
	`password reset email sent to user 4411`,
}

func secretScript() string {
	lines := []string{
		`{"level":"info","msg":"login","password":"` + plantedSecrets[0] + `"}`,
		`GET /api Authorization: Bearer ` + plantedSecrets[1],
		`aws_access_key_id=` + plantedSecrets[2],
		`cloning with token ` + plantedSecrets[3],
		`-----BEGIN RSA PRIVATE KEY-----`,
		plantedSecrets[4],
		`-----END RSA PRIVATE KEY-----`,
		`charged card ` + plantedSecrets[5] + ` ok`,
		`connecting to postgres://app:` + plantedSecrets[6] + `@db:5432/app`,
	}
	lines = append(lines, benignLines...)
	var b strings.Builder
	b.WriteString("printf '%s\\n'")
	for _, l := range lines {
		b.WriteString(" '" + l + "'")
	}
	b.WriteString("\nprintf '%s\\n' \"$DB_PASSWORD is in the env\" >/dev/null\necho printed\n")
	b.WriteString("while [ ! -e /tmp/go ]; do usleep 20000; done\n")
	return b.String()
}

// scanFolder returns the files below dir that contain any of secrets.
func scanFolder(t *testing.T, dir string, secrets []string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				hits = append(hits, p+": "+s[:8]+"…")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func TestSecretsMaskedInLogsAndOnDisk(t *testing.T) {
	requirePlugin(t)
	dataDir := "/var/lib/docker/logship"
	if _, err := os.Stat(dataDir); err != nil {
		t.Fatalf("plugin data folder: %v", err)
	}
	// compress=false stores blocks as they are, so a byte search of the
	// data folder would find a secret if one were stored.
	c := startContainer(t, runSpec{
		logOpts: []string{"compress=false", "env=DB_PASSWORD", "tag={{.Name}}"},
		args:    []string{"-e", "DB_PASSWORD=" + plantedSecrets[7]},
		script:  secretScript(),
	})
	s := followLogs(t, c.name, "-f")
	s.readUntil("printed", 30*time.Second)
	s.stop()

	// While the container runs, its stream state (with its env) is on disk.
	if hits := scanFolder(t, dataDir, plantedSecrets); len(hits) > 0 {
		t.Errorf("secrets in the plugin's data folder while running:\n%s", strings.Join(hits, "\n"))
	}
	c.touch("/tmp/go")
	if code := c.wait(time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}
	stdout, _ := c.logs()
	for _, sec := range plantedSecrets {
		if strings.Contains(stdout, sec) {
			t.Errorf("docker logs shows a secret: %s…", sec[:8])
		}
	}
	got := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(got) != 9+len(benignLines)+1 {
		t.Fatalf("docker logs has %d lines, want %d:\n%s", len(got), 9+len(benignLines)+1, stdout)
	}
	for i, want := range benignLines {
		if got[9+i] != want {
			t.Errorf("benign line changed:\n got %q\nwant %q", got[9+i], want)
		}
	}
	for i, want := range []string{`{"level":"info","msg":"login","password":"`, `GET /api Authorization: Bearer `,
		`aws_access_key_id=`, `cloning with token `, `-----BEGIN RSA PRIVATE KEY-----`} {
		if !strings.HasPrefix(got[i], want) {
			t.Errorf("masked line %d lost its context: %q", i, got[i])
		}
	}
	if hits := scanFolder(t, dataDir, plantedSecrets); len(hits) > 0 {
		t.Errorf("secrets in the plugin's data folder after exit:\n%s", strings.Join(hits, "\n"))
	}
}
