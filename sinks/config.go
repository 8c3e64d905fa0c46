package sinks

import (
	"errors"
	"fmt"
	"time"
)

// DeliveryConfig is how the shared wrapper batches and retries for one
// sink. Each protocol package derives it from its own log-opts (for
// example fluentd-retry-wait and fluentd-max-retries), so option names stay
// those of Docker's drivers.
type DeliveryConfig struct {
	// A batch is sent when it holds MaxRecords records or MaxBytes bytes of
	// lines, or when its oldest record has waited MaxAge.
	MaxRecords int
	MaxBytes   int
	MaxAge     time.Duration
	// Backoff between attempts grows from InitialBackoff, doubling, up to
	// MaxBackoff, with ±20% jitter. A Retry-After from the receiver
	// replaces it (capped at MaxRetryAfter).
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	MaxRetryAfter  time.Duration
	// MaxRetries is the number of retries of a batch before it is dropped
	// (counted, reason "retries_exhausted"); negative means retry until the
	// ring evicts the records (Docker's fluentd default is effectively
	// forever).
	MaxRetries int
	// AttemptTimeout bounds one Send.
	AttemptTimeout time.Duration
}

// DefaultDeliveryConfig returns the defaults: 1000 records or 1 MiB or
// 200 ms per batch; backoff 1 s to 30 s; retry forever; 10 s per attempt.
func DefaultDeliveryConfig() DeliveryConfig {
	return DeliveryConfig{
		MaxRecords:     1000,
		MaxBytes:       1 << 20,
		MaxAge:         200 * time.Millisecond,
		InitialBackoff: time.Second,
		MaxBackoff:     30 * time.Second,
		MaxRetryAfter:  5 * time.Minute,
		MaxRetries:     -1,
		AttemptTimeout: 10 * time.Second,
	}
}

// Validate reports every problem at once.
func (c DeliveryConfig) Validate() error {
	var errs []error
	if c.MaxRecords < 1 {
		errs = append(errs, fmt.Errorf("delivery: MaxRecords %d must be at least 1", c.MaxRecords))
	}
	if c.MaxBytes < 1 {
		errs = append(errs, fmt.Errorf("delivery: MaxBytes %d must be at least 1", c.MaxBytes))
	}
	if c.MaxAge <= 0 {
		errs = append(errs, errors.New("delivery: MaxAge must be positive"))
	}
	if c.InitialBackoff <= 0 || c.MaxBackoff < c.InitialBackoff {
		errs = append(errs, errors.New("delivery: need 0 < InitialBackoff <= MaxBackoff"))
	}
	if c.MaxRetryAfter <= 0 {
		errs = append(errs, errors.New("delivery: MaxRetryAfter must be positive"))
	}
	if c.AttemptTimeout <= 0 {
		errs = append(errs, errors.New("delivery: AttemptTimeout must be positive"))
	}
	return errors.Join(errs...)
}
