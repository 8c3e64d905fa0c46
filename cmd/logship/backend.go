package main

import (
	"context"
	"encoding/json"
	"errors"
	"maps"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/pipeline/ring"
)

// backend joins the stages for the driver: it validates a container's
// log-opts against every package that owns some, and opens its ring.
type backend struct {
	store    *ring.Store
	defaults map[string]string
}

// optionKeys are every log-opt logship accepts, by owning package.
var optionKeys = [][]string{pipeline.OptionKeys, ring.OptionKeys}

func (b *backend) OpenStream(ctx context.Context, info *pipeline.Info) (pipeline.StreamWriter, error) {
	opts := maps.Clone(b.defaults)
	if opts == nil {
		opts = map[string]string{}
	}
	maps.Copy(opts, info.Config)
	if err := pipeline.CheckKnown(opts, optionKeys...); err != nil {
		return nil, err
	}
	merged := *info
	merged.Config = opts
	_, perr := pipeline.ParseConfig(opts)
	ropts, rerr := ring.ParseOptions(opts)
	meta, merr := pipeline.NewMeta(&merged)
	if err := errors.Join(perr, rerr, merr); err != nil {
		return nil, err
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	return b.store.OpenWriter(info.ContainerID, ropts, metaJSON)
}

func (b *backend) ReadLogs(ctx context.Context, containerID string, cfg pipeline.ReadConfig, fn func(*pipeline.Record) error) error {
	return b.store.ReadLogs(ctx, containerID, cfg, fn)
}
