package fluentd

import (
	"context"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/logship/logship/sinks"
)

// The secured-forward handshake, as Fluentd's out_forward does it:
//
//	server: ["HELO", {"nonce": bin, "auth": salt or "", "keepalive": bool}]
//	client: ["PING", hostname, salt, sha512_hex(salt+hostname+nonce+shared_key),
//	         username, sha512_hex(auth+username+password) or ""]
//	server: ["PONG", auth_result, reason, server_hostname,
//	         sha512_hex(salt+server_hostname+nonce+shared_key)]
//
// The client checks the PONG digest, so a server that does not know the
// shared key cannot pass for the real one (mutual authentication).

type helo struct {
	nonce, auth []byte
	keepalive   bool
}

func parseHELO(v *value) (helo, error) {
	h := helo{keepalive: true}
	if !isHELO(v) || len(v.items) < 2 || v.items[1].kind != kindMap {
		return h, fmt.Errorf("%w: expected HELO", ErrProtocol)
	}
	opts := &v.items[1]
	nonce, ok := opts.get("nonce")
	if !ok {
		return h, fmt.Errorf("%w: HELO without nonce", ErrProtocol)
	}
	if h.nonce, ok = nonce.bytes(); !ok || len(h.nonce) == 0 {
		return h, fmt.Errorf("%w: HELO nonce is not a string", ErrProtocol)
	}
	if auth, ok := opts.get("auth"); ok {
		h.auth, _ = auth.bytes()
	}
	if ka, ok := opts.get("keepalive"); ok && ka.kind == kindBool {
		h.keepalive = ka.b
	}
	return h, nil
}

func sha512Hex(parts ...[]byte) string {
	d := sha512.New()
	for _, p := range parts {
		d.Write(p)
	}
	return hex.EncodeToString(d.Sum(nil))
}

// appendPING appends the PING message for the HELO h.
func appendPING(dst []byte, h helo, hostname, salt string, key, user, password string) []byte {
	dst = appendArrayHeader(dst, 6)
	dst = appendStr(dst, "PING")
	dst = appendStr(dst, hostname)
	dst = appendStr(dst, salt)
	dst = appendStr(dst, sha512Hex([]byte(salt), []byte(hostname), h.nonce, []byte(key)))
	dst = appendStr(dst, user)
	if user == "" {
		return appendStr(dst, "")
	}
	return appendStr(dst, sha512Hex(h.auth, []byte(user), []byte(password)))
}

// checkPONG verifies the PONG message v for our salt and the HELO's nonce.
func checkPONG(v *value, h helo, salt, key string) error {
	if v.kind != kindArray || len(v.items) != 5 {
		return fmt.Errorf("%w: expected PONG", ErrProtocol)
	}
	if name, ok := v.items[0].bytes(); !ok || string(name) != "PONG" {
		return fmt.Errorf("%w: expected PONG", ErrProtocol)
	}
	if v.items[1].kind != kindBool {
		return fmt.Errorf("%w: PONG auth_result is not a bool", ErrProtocol)
	}
	if !v.items[1].b {
		reason, _ := v.items[2].bytes()
		return sinks.Permanent(fmt.Errorf("%w: %s", ErrAuthRejected, quoteReason(reason)))
	}
	host, ok1 := v.items[3].bytes()
	digest, ok2 := v.items[4].bytes()
	if !ok1 || !ok2 {
		return fmt.Errorf("%w: malformed PONG", ErrProtocol)
	}
	want := sha512Hex([]byte(salt), host, h.nonce, []byte(key))
	if subtle.ConstantTimeCompare([]byte(want), digest) != 1 {
		return ErrServerAuth
	}
	return nil
}

// handshake runs HELO/PING/PONG on a fresh connection. Waits are bounded
// by fluentd-read-timeout and ctx, the PING write by fluentd-write-timeout
// and ctx.
func (s *Sink) handshake(ctx context.Context, c *conn) error {
	v, err := c.await(ctx, s.cfg.ReadTimeout)
	if err != nil {
		return fmt.Errorf("fluentd: waiting for HELO: %w", err)
	}
	h, err := parseHELO(&v)
	if err != nil {
		return err
	}
	c.keepalive = h.keepalive

	var raw [16]byte
	_, _ = rand.Read(raw[:]) // never fails (crypto/rand)
	salt := hex.EncodeToString(raw[:])
	ping := appendPING(nil, h, s.hostname, salt, string(s.cfg.SharedKey), s.cfg.Username, string(s.cfg.Password))

	var deadline time.Time
	if s.cfg.WriteTimeout > 0 {
		deadline = time.Now().Add(s.cfg.WriteTimeout)
	}
	if err := c.nc.SetWriteDeadline(deadline); err != nil {
		return fmt.Errorf("fluentd: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetWriteDeadline(aLongTimeAgo) })
	defer stop()
	if err := ctx.Err(); err != nil {
		return err
	}
	n, err := c.nc.Write(ping)
	s.bytesSent.Add(uint64(n))
	if err != nil {
		return fmt.Errorf("fluentd: write PING: %w", err)
	}
	if v, err = c.await(ctx, s.cfg.ReadTimeout); err != nil {
		return fmt.Errorf("fluentd: waiting for PONG: %w", err)
	}
	return checkPONG(&v, h, salt, string(s.cfg.SharedKey))
}
