package pipeline

import (
	"encoding/json"
	"errors"
	"reflect"
	"regexp/syntax"
	"strings"
	"testing"
)

const (
	testContainerID = "3f2a9c1b7d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"
	testImageID     = "sha256:b3aa12271b96b06dcbaed2394b339f5696c9481b353f66d8282ee83d260b16b5"
)

func testInfo(config map[string]string) *Info {
	return &Info{
		Config:              config,
		ContainerID:         testContainerID,
		ContainerName:       "/web-1",
		ContainerEntrypoint: "/bin/server",
		ContainerArgs:       []string{"--port", "80"},
		ContainerImageID:    testImageID,
		ContainerImageName:  "registry.example.com/team/web:1.25",
		ContainerEnv:        []string{"APP_MODE=prod", "APP_URL=http://x/?a=b", "PATH=/bin", "NOEQUALS", "SHARED=from-env"},
		ContainerLabels:     map[string]string{"com.example.team": "core", "com.example.tier": "web", "version": "7", "SHARED": "from-label"},
		DaemonName:          "docker",
	}
}

func TestMetaTag(t *testing.T) {
	f := func(tag, want string) {
		t.Helper()
		m, err := NewMeta(testInfo(map[string]string{"tag": tag}))
		if err != nil {
			t.Fatalf("tag %q: %v", tag, err)
		}
		if m.Tag != want {
			t.Errorf("tag %q = %q, want %q", tag, m.Tag, want)
		}
	}
	f("", testContainerID[:12]) // Docker's default, {{.ID}}
	f(DefaultTagTemplate, testContainerID[:12])
	f("{{.FullID}}", testContainerID)
	f("{{.Name}}", "web-1")
	f("{{.ContainerName}}", "/web-1")
	f("{{.ImageName}}", "registry.example.com/team/web:1.25")
	f("{{.ImageFullID}}", testImageID)
	f("{{.ImageID}}", testImageID[:12]) // Docker v28 keeps the "sha256:" in the 12 characters
	f("{{.Command}}", "/bin/server --port 80")
	f("{{.DaemonName}}", "docker")
	f(`{{index .ContainerLabels "com.example.team"}}`, "core")
	f("{{.Name}}/{{.ID}}", "web-1/"+testContainerID[:12])
	f("static-tag", "static-tag")
	f("{{upper .Name}}", "WEB-1")
	f("{{lower (upper .Name)}}", "web-1")
	f("{{title .Name}}", "Web-1")
	f("{{truncate .FullID 4}}", testContainerID[:4])
	f("{{pad .Name 1 2}}", " web-1  ")
	f(`{{join (split .ImageName "/") "."}}`, "registry.example.com.team.web:1.25")
	f(`{{json .ContainerArgs}}`, `["--port","80"]`)
	f(`{{.Name | printf "%s!"}}`, "web-1!")
}

func TestMetaShortIDs(t *testing.T) {
	// dockerd always sends 64-hex ids, but Docker's Info.ID() panics on
	// shorter ones; a sidecar or a test must not crash the plugin.
	for _, c := range []struct{ id, image, tag, want string }{
		{"abc", "", "", "abc"},
		{"", "", "", ""},
		{"abc", "sha", "{{.ID}}-{{.ImageID}}-{{.Name}}", "abc-sha-web-1"},
		{testContainerID, "", "{{.ID}}/{{.ImageID}}", testContainerID[:12] + "/"},
		{"abc", "", `{{index .ContainerLabels "version"}}`, "7"},
		{"abc", "", "{{.Nope}}", ""}, // still an error, not a panic
	} {
		info := testInfo(map[string]string{"tag": c.tag})
		info.ContainerID, info.ContainerImageID = c.id, c.image
		m, err := NewMeta(info)
		if c.tag == "{{.Nope}}" {
			if err == nil {
				t.Errorf("tag %q accepted", c.tag)
			}
			continue
		}
		if err != nil {
			t.Errorf("id %q image %q tag %q: %v", c.id, c.image, c.tag, err)
			continue
		}
		if m.Tag != c.want || m.ContainerID != c.id || m.ImageID != c.image {
			t.Errorf("id %q image %q tag %q: %+v", c.id, c.image, c.tag, m)
		}
	}
}

func TestMetaFields(t *testing.T) {
	m, err := NewMeta(testInfo(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := &Meta{
		ContainerID:   testContainerID,
		ContainerName: "web-1",
		ImageName:     "registry.example.com/team/web:1.25",
		ImageID:       testImageID,
		Tag:           testContainerID[:12],
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("NewMeta = %+v, want %+v", m, want)
	}
}

func TestMetaAttrs(t *testing.T) {
	f := func(config map[string]string, want map[string]string) {
		t.Helper()
		m, err := NewMeta(testInfo(config))
		if err != nil {
			t.Fatalf("%v: %v", config, err)
		}
		if !reflect.DeepEqual(m.Attrs, want) {
			t.Errorf("%v: Attrs = %v, want %v", config, m.Attrs, want)
		}
	}
	f(nil, nil)
	f(map[string]string{"labels": "version,missing"}, map[string]string{"version": "7"})
	f(map[string]string{"labels": "version, com.example.tier"}, map[string]string{"version": "7"}) // no trimming, as in Docker
	f(map[string]string{"labels-regex": `^com\.example\.`}, map[string]string{"com.example.team": "core", "com.example.tier": "web"})
	f(map[string]string{"env": "APP_MODE,NOEQUALS,missing"}, map[string]string{"APP_MODE": "prod"})
	f(map[string]string{"env": "APP_URL"}, map[string]string{"APP_URL": "http://x/?a=b"}) // split at the first '='
	f(map[string]string{"env-regex": "^APP_"}, map[string]string{"APP_MODE": "prod", "APP_URL": "http://x/?a=b"})
	// Later sources win: labels < labels-regex < env < env-regex.
	f(map[string]string{"labels": "SHARED", "env": "SHARED"}, map[string]string{"SHARED": "from-env"})
	f(map[string]string{"labels-regex": "^SHARED$", "env-regex": "^SHARED$"}, map[string]string{"SHARED": "from-env"})
	f(map[string]string{"labels": "SHARED", "env": "PATH"}, map[string]string{"SHARED": "from-label", "PATH": "/bin"})

	// Without any environment, the env options select nothing.
	info := testInfo(map[string]string{"env": "APP_MODE", "labels": "version"})
	info.ContainerEnv = nil
	m, err := NewMeta(info)
	if err != nil || !reflect.DeepEqual(m.Attrs, map[string]string{"version": "7"}) {
		t.Errorf("no env: %+v, %v", m, err)
	}
	info.ContainerLabels = nil
	if m, err = NewMeta(info); err != nil || m.Attrs != nil {
		t.Errorf("no env, no labels: %+v, %v", m, err)
	}
}

func TestMetaErrors(t *testing.T) {
	for _, c := range []struct {
		config map[string]string
		keys   []string
	}{
		{map[string]string{"tag": "{{.Name"}, []string{OptTag}},
		{map[string]string{"tag": "{{nope .Name}}"}, []string{OptTag}},
		{map[string]string{"tag": "{{.NoSuchField}}"}, []string{OptTag}},
		{map[string]string{"tag": "{{truncate .Name}}"}, []string{OptTag}},
		{map[string]string{"labels-regex": "([a-z"}, []string{OptLabelsRegex}},
		{map[string]string{"env-regex": "*x"}, []string{OptEnvRegex}},
		{map[string]string{"tag": "{{", "labels-regex": "(", "env-regex": "[", "labels": "x", "env": "y"},
			[]string{OptEnvRegex, OptLabelsRegex, OptTag}},
	} {
		m, err := NewMeta(testInfo(c.config))
		if err == nil {
			t.Errorf("%v: accepted, %+v", c.config, m)
			continue
		}
		if got := optionKeys(t, err); !reflect.DeepEqual(got, c.keys) {
			t.Errorf("%v: errors for %v, want %v (%v)", c.config, got, c.keys, err)
		}
	}
	// A bad env-regex is reported even for a container without env, where
	// Docker would not look at it.
	info := testInfo(map[string]string{"env-regex": "(x"})
	info.ContainerEnv = nil
	if _, err := NewMeta(info); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("bad env-regex without env: %v", err)
	}
	// The regexp error keeps its cause but not the expression.
	_, err := NewMeta(testInfo(map[string]string{"labels-regex": "(secretish"}))
	if _, ok := errors.AsType[*syntax.Error](err); !ok {
		t.Errorf("%v does not wrap *syntax.Error", err)
	}
	if strings.Contains(err.Error(), "secretish") {
		t.Errorf("%q repeats the expression", err)
	}
}

func TestMetaJSON(t *testing.T) {
	m, err := NewMeta(testInfo(map[string]string{"labels-regex": ".", "tag": "{{.Name}}"}))
	if err != nil {
		t.Fatal(err)
	}
	b1, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 { // map order must not leak into the encoding
		b2, _ := json.Marshal(m)
		if string(b1) != string(b2) {
			t.Fatalf("unstable encoding:\n%s\n%s", b1, b2)
		}
	}
	const golden = `{"container_id":"` + testContainerID + `","container_name":"web-1",` +
		`"image_name":"registry.example.com/team/web:1.25","image_id":"` + testImageID + `","tag":"web-1",` +
		`"attrs":{"SHARED":"from-label","com.example.team":"core","com.example.tier":"web","version":"7"}}`
	if string(b1) != golden {
		t.Errorf("encoding changed:\n got %s\nwant %s", b1, golden)
	}
	var back Meta
	if err := json.Unmarshal(b1, &back); err != nil || !reflect.DeepEqual(&back, m) {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	m.Attrs = nil
	if b, _ := json.Marshal(m); strings.Contains(string(b), "attrs") {
		t.Errorf("empty Attrs encoded: %s", b)
	}
}
