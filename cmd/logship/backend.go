package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/pipeline/ring"
	"github.com/logship/logship/redact"
	"github.com/logship/logship/sinks"
	"github.com/logship/logship/sinks/fluentd"
	"github.com/logship/logship/sinks/httpsink"
	"github.com/logship/logship/sinks/syslogsink"
)

// backend joins the stages for the driver: it validates a container's
// log-opts against every package that owns some, opens its ring, and
// starts delivery to the sinks the options name.
type backend struct {
	store    *ring.Store
	delivery *sinks.Delivery
	metrics  *pipeline.Metrics
	defaults map[string]string
	getenv   func(string) string
	log      *slog.Logger

	mu      sync.Mutex
	maskers map[string]*redact.Masker // by policy: a Masker is built once per policy
}

// optionKeys are every log-opt logship accepts, by owning package.
var optionKeys = [][]string{pipeline.OptionKeys, ring.OptionKeys, redact.OptionKeys,
	fluentd.OptionKeys, syslogsink.OptionKeys, httpsink.OptionKeys}

// sinkNames are the protocols, for metrics that exist from the start.
var sinkNames = []string{"fluentd", "syslog", "http"}

// streamPlan is everything parsed from one container's log-opts.
type streamPlan struct {
	opts    map[string]string
	parse   pipeline.Config
	ring    ring.Options
	masker  *redact.Masker
	targets []sinks.Target
}

// plan validates opts (the container's log-opts over the plugin-wide
// defaults) and reports every problem at once.
func (b *backend) plan(config map[string]string) (*streamPlan, error) {
	opts := maps.Clone(b.defaults)
	if opts == nil {
		opts = map[string]string{}
	}
	maps.Copy(opts, config)
	if err := pipeline.CheckKnown(opts, optionKeys...); err != nil {
		return nil, err
	}
	p := &streamPlan{opts: opts}
	var errs []error
	var err error
	if p.parse, err = pipeline.ParseConfig(opts); err != nil {
		errs = append(errs, err)
	}
	if p.ring, err = ring.ParseOptions(opts); err != nil {
		errs = append(errs, err)
	}
	if pol, err := redact.ParsePolicy(opts, b.getenv); err != nil {
		errs = append(errs, err)
	} else if p.masker, err = b.maskerFor(pol); err != nil {
		errs = append(errs, err)
	}
	if fc, on, err := fluentd.ParseConfig(opts, b.getenv); err != nil {
		errs = append(errs, err)
	} else if on {
		p.targets = append(p.targets, sinks.Target{Name: "fluentd", Key: "fluentd\x00" + fc.Key(), Delivery: fc.Delivery,
			New: func() (sinks.Sink, error) { return fluentd.New(fc, b.metrics) }})
	}
	if sc, on, err := syslogsink.ParseConfig(opts, b.getenv); err != nil {
		errs = append(errs, err)
	} else if on {
		p.targets = append(p.targets, sinks.Target{Name: "syslog", Key: "syslog\x00" + sc.Key(), Delivery: sc.Delivery,
			New: func() (sinks.Sink, error) { return syslogsink.New(sc, b.metrics) }})
	}
	if hc, on, err := httpsink.ParseConfig(opts, b.getenv); err != nil {
		errs = append(errs, err)
	} else if on {
		p.targets = append(p.targets, sinks.Target{Name: "http", Key: "http\x00" + hc.Key(), Delivery: hc.Delivery,
			New: func() (sinks.Sink, error) { return httpsink.New(hc, b.metrics) }})
	}
	return p, errors.Join(errs...)
}

func (b *backend) OpenStream(ctx context.Context, info *pipeline.Info) (pipeline.StreamWriter, error) {
	p, err := b.plan(info.Config)
	if err != nil {
		return nil, err
	}
	merged := *info
	merged.Config = p.opts
	meta, err := pipeline.NewMeta(&merged)
	if err != nil {
		return nil, err
	}
	// Attributes (labels, env) are masked like lines: an env attribute
	// such as DB_PASSWORD must not reach the ring or a sink.
	if !p.masker.Disabled() {
		meta.Attrs = p.masker.Attrs(meta.Attrs)
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	w, err := b.store.OpenWriter(info.ContainerID, p.ring, metaJSON)
	if err != nil {
		return nil, err
	}
	if err := b.ship(info.ContainerID, meta, p); err != nil {
		w.Close()
		return nil, err
	}
	// Masking sits in front of the ring: nothing unmasked is stored, so
	// nothing unmasked can be shown by `docker logs` or shipped.
	return redact.NewWriter(w, p.masker), nil
}

// SanitizeInfo masks the values of the container's env and labels, and its
// command line, before the driver writes them to its state folder, with
// the container's own masking policy: they only matter there for the
// attributes and the tag, which are masked anyway.
func (b *backend) SanitizeInfo(info pipeline.Info) pipeline.Info {
	p, err := b.plan(info.Config)
	if err != nil || p.masker.Disabled() {
		return info
	}
	if len(info.ContainerEnv) > 0 {
		env := make([]string, 0, len(info.ContainerEnv))
		for _, kv := range info.ContainerEnv {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				env = append(env, kv)
				continue
			}
			env = append(env, k+"="+p.masker.Attrs(map[string]string{k: v})[k])
		}
		info.ContainerEnv = env
	}
	if len(info.ContainerLabels) > 0 {
		info.ContainerLabels = p.masker.Attrs(info.ContainerLabels)
	}
	// The command line holds secrets too (sh -c scripts, --password=...).
	if len(info.ContainerArgs) > 0 {
		args := make([]string, len(info.ContainerArgs))
		for i, a := range info.ContainerArgs {
			args[i] = maskString(p.masker, a)
		}
		info.ContainerArgs = args
	}
	info.ContainerEntrypoint = maskString(p.masker, info.ContainerEntrypoint)
	return info
}

func maskString(m *redact.Masker, s string) string {
	if out, changed := m.AppendLine(nil, []byte(s)); changed {
		return string(out)
	}
	return s
}

// maskerFor returns the Masker of a policy, building it on first use.
func (b *backend) maskerFor(pol redact.Policy) (*redact.Masker, error) {
	raw, err := json.Marshal(pol)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	key := string(sum[:])
	b.mu.Lock()
	defer b.mu.Unlock()
	if m := b.maskers[key]; m != nil {
		return m, nil
	}
	m, err := redact.New(pol, b.metrics)
	if err != nil {
		return nil, err
	}
	if b.maskers == nil || len(b.maskers) >= 256 {
		b.maskers = map[string]*redact.Masker{}
	}
	b.maskers[key] = m
	return m, nil
}

func (b *backend) ship(id string, meta *pipeline.Meta, p *streamPlan) error {
	if len(p.targets) == 0 {
		return nil
	}
	planJSON, err := json.Marshal(p.opts)
	if err != nil {
		return err
	}
	return b.delivery.Ship(id, meta, pipeline.NewParser(p.parse), planJSON, p.targets)
}

// resume restarts delivery of what containers that are not running any
// more still have undelivered in their rings (running ones are resumed by
// re-attaching their streams).
func (b *backend) resume() {
	plans, err := b.delivery.Plans()
	if err != nil {
		b.log.Warn("cannot list delivery plans", "error", err)
		return
	}
	for id, raw := range plans {
		var opts map[string]string
		if err := json.Unmarshal(raw, &opts); err != nil {
			b.log.Warn("unreadable delivery plan", "container_id", id, "error", err)
			continue
		}
		p, err := b.plan(opts)
		if err != nil {
			b.log.Warn("delivery plan no longer valid", "container_id", id, "error", err)
			continue
		}
		var meta pipeline.Meta
		if raw, err := b.store.ReadMeta(id); err != nil || json.Unmarshal(raw, &meta) != nil {
			meta = pipeline.Meta{ContainerID: id}
		}
		if err := b.ship(id, &meta, p); err != nil {
			b.log.Warn("cannot resume delivery", "container_id", id, "error", fmt.Sprint(err))
		}
	}
}

func (b *backend) ReadLogs(ctx context.Context, containerID string, cfg pipeline.ReadConfig, fn func(*pipeline.Record) error) error {
	return b.store.ReadLogs(ctx, containerID, cfg, fn)
}
