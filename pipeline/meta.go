package pipeline

import (
	"errors"
	"regexp"
	"regexp/syntax"
	"strings"

	"github.com/docker/docker/daemon/logger/loggerutils"
	"github.com/docker/docker/daemon/logger/templates"
)

// Meta is what a container's records are enriched with: its identity, the
// rendered tag and the attributes selected by the labels/env options. It is
// computed once per stream by NewMeta, not per record.
//
// json.Marshal of a Meta is stable (fields in declaration order, Attrs keys
// sorted), so it can be stored as is and compared byte for byte.
type Meta struct {
	ContainerID   string `json:"container_id"`   // full id
	ContainerName string `json:"container_name"` // without the leading '/'
	ImageName     string `json:"image_name"`     // as the user wrote it
	ImageID       string `json:"image_id"`       // full, e.g. "sha256:..."
	// Tag is the tag log-opt rendered as Docker's fluentd, syslog and gelf
	// drivers render it (default "{{.ID}}": the first 12 characters of the
	// id).
	Tag string `json:"tag"`
	// Attrs holds the labels and environment variables selected by the
	// labels, labels-regex, env and env-regex log-opts, with Docker's
	// semantics (Info.ExtraAttributes): later sources overwrite earlier ones
	// in that order; env options are ignored for a container without
	// environment. Nil when nothing is selected.
	Attrs map[string]string `json:"attrs,omitempty"`
}

// NewMeta renders the container metadata from info with Docker's own code,
// so that tag, labels and env behave exactly as with Docker's drivers. It
// reports every problem at once as *OptionErrors (wrapping
// ErrInvalidOption) naming tag, labels-regex or env-regex. A bad regexp is
// an error even when the container has no environment to match it against,
// where Docker would ignore it: a typo should fail the first `docker run`,
// not the first one with env. info must not be nil; NewMeta does not keep
// it.
func NewMeta(info *Info) (*Meta, error) {
	p := NewOptionParser(info.Config)
	tag, err := renderTag(info)
	if err != nil {
		// The cause quotes the failing part of the template: a tag is no
		// secret, and without it the user cannot tell what to fix.
		p.Fail(OptTag, "a Go template over the container such as {{.Name}} or {{.ID}}", err)
	}
	for _, key := range []string{OptLabelsRegex, OptEnvRegex} {
		if expr, ok := p.Lookup(key); ok {
			if _, err := regexp.Compile(expr); err != nil {
				p.Fail(key, "a Go (RE2) regular expression", redactRegexpError(err))
			}
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	attrs, err := info.ExtraAttributes(nil)
	if err != nil { // both regexps compiled above; kept for safety
		return nil, err
	}
	if len(attrs) == 0 {
		attrs = nil
	}
	return &Meta{
		ContainerID:   info.ContainerID,
		ContainerName: info.Name(),
		ImageName:     info.ContainerImageName,
		ImageID:       info.ContainerImageID,
		Tag:           tag,
		Attrs:         attrs,
	}, nil
}

// renderTag renders the tag log-opt with Docker's own
// loggerutils.ParseLogTag, so templates mean exactly what they mean for
// Docker's fluentd and syslog drivers.
//
// Docker's Info.ID and Info.ImageID slice [:12] and fail on shorter ids,
// which dockerd never sends but a sidecar or a test may; those are rendered
// with the same template package against a wrapper whose ID and ImageID
// truncate safely.
func renderTag(info *Info) (string, error) {
	if len(info.ContainerID) >= 12 && len(info.ContainerImageID) >= 12 {
		return loggerutils.ParseLogTag(*info, loggerutils.DefaultTemplate)
	}
	text := info.Config[OptTag]
	if text == "" {
		text = DefaultTagTemplate
	}
	tmpl, err := templates.NewParse("log-tag", text)
	if err != nil {
		return "", err
	}
	var data any = info
	if len(info.ContainerID) < 12 || len(info.ContainerImageID) < 12 {
		data = shortIDInfo{info}
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// DefaultTagTemplate is the tag of Docker's fluentd, syslog and gelf drivers
// (loggerutils.DefaultTemplate).
const DefaultTagTemplate = "{{.ID}}"

type shortIDInfo struct{ *Info }

func (i shortIDInfo) ID() string      { return i.ContainerID[:min(12, len(i.ContainerID))] }
func (i shortIDInfo) ImageID() string { return i.ContainerImageID[:min(12, len(i.ContainerImageID))] }

// regexpError is a regexp syntax error without the expression, which an
// OptionError must not repeat.
type regexpError struct{ err *syntax.Error }

func (e *regexpError) Error() string { return "regexp: " + e.err.Code.String() }
func (e *regexpError) Unwrap() error { return e.err }

func redactRegexpError(err error) error {
	if se, ok := errors.AsType[*syntax.Error](err); ok {
		return &regexpError{se}
	}
	return err
}
