// Package etcdstore is the toolset store that router replicas share (--store etcd://...):
// toolsets are keys under a prefix, a key's mod revision is the toolset's version (its etag),
// conditional writes are transactions comparing it, and replicas follow changes with an etcd
// watch from the revision they are current at. It implements registry.SharedStore.
package etcdstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/needle-router/needle/internal/registry"
)

// Config says how to reach etcd. ParseURL builds one from --store.
type Config struct {
	Endpoints          []string // host:port
	Prefix             string   // key prefix, ending in "/" (default "/needle-router/")
	Username, Password string   // etcd authentication, when enabled
	TLS                bool     // etcds://: TLS with the system roots, or CAFile
	CAFile             string   // PEM roots for TLS
	CertFile, KeyFile  string   // client certificate for TLS
	// ProbeInterval is how often a watching replica checks that etcd still answers (a
	// watch alone stays silent through an outage), and ProbeTimeout how long a check may
	// take; an outage is noticed within their sum. Defaults 1s and 1s.
	ProbeInterval, ProbeTimeout time.Duration
}

// DefaultPrefix is the key prefix when the URL has no path.
const DefaultPrefix = "/needle-router/"

// ParseURL reads a --store URL:
//
//	etcd://[user:password@]host:port[,host:port...][/prefix]
//	etcds://...[?ca=FILE&cert=FILE&key=FILE]
//
// The path is the key prefix (default /needle-router/). Errors name what is wrong; the URL's
// password is never in them.
func ParseURL(s string) (Config, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Config{}, errors.New("not a URL (etcd://host:port[/prefix])")
	}
	var c Config
	switch u.Scheme {
	case "etcd":
	case "etcds":
		c.TLS = true
	default:
		return Config{}, fmt.Errorf("scheme %q is not etcd or etcds", u.Scheme)
	}
	if u.Host == "" {
		return Config{}, errors.New("no host:port")
	}
	for _, h := range strings.Split(u.Host, ",") {
		if !strings.Contains(h, ":") {
			return Config{}, fmt.Errorf("endpoint %q has no port", h)
		}
		c.Endpoints = append(c.Endpoints, h)
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	c.Prefix = DefaultPrefix
	if p := strings.TrimSuffix(u.Path, "/"); p != "" {
		c.Prefix = p + "/"
	}
	q := u.Query()
	c.CAFile, c.CertFile, c.KeyFile = q.Get("ca"), q.Get("cert"), q.Get("key")
	for k := range q {
		if k != "ca" && k != "cert" && k != "key" {
			return Config{}, fmt.Errorf("unknown parameter %q (ca, cert, key)", k)
		}
	}
	if !c.TLS && (c.CAFile != "" || c.CertFile != "" || c.KeyFile != "") {
		return Config{}, errors.New("ca, cert and key need etcds://")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return Config{}, errors.New("cert and key go together")
	}
	return c, nil
}

// Store is a registry.SharedStore over etcd.
type Store struct {
	c      *clientv3.Client
	cfg    Config
	prefix string
}

var _ registry.SharedStore = (*Store)(nil)

// Open makes the client; it does not wait for etcd (the registry retries its first listing).
func Open(cfg Config) (*Store, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = time.Second
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = time.Second
	}
	cc := clientv3.Config{
		Endpoints: cfg.Endpoints, Username: cfg.Username, Password: cfg.Password,
		DialTimeout: 2 * time.Second, DialKeepAliveTime: 5 * time.Second, DialKeepAliveTimeout: 2 * time.Second,
		Logger: zap.NewNop(), // the registry logs what matters: losing and regaining the store
	}
	if cfg.TLS {
		t := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("etcdstore: ca: %w", err)
			}
			t.RootCAs = x509.NewCertPool()
			if !t.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("etcdstore: ca: no PEM certificate in %s", cfg.CAFile)
			}
		}
		if cfg.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("etcdstore: client certificate: %w", err)
			}
			t.Certificates = []tls.Certificate{cert}
		}
		cc.TLS = t
	}
	c, err := clientv3.New(cc)
	if err != nil {
		return nil, fmt.Errorf("etcdstore: %w", err)
	}
	return &Store{c: c, cfg: cfg, prefix: cfg.Prefix + "toolsets/"}, nil
}

// Describe implements registry.SharedStore.
func (s *Store) Describe() string {
	scheme := "etcd"
	if s.cfg.TLS {
		scheme = "etcds"
	}
	return fmt.Sprintf("%s://%s%s", scheme, strings.Join(s.cfg.Endpoints, ","), strings.TrimSuffix(s.cfg.Prefix, "/"))
}

// unavailable classifies every failure to talk to etcd: the caller's deadline is handled by
// the registry, anything else is the dependency's.
func unavailable(err error) error {
	return fmt.Errorf("%w: etcd: %v", registry.ErrStoreUnavailable, err)
}

// Load implements registry.Store.
func (s *Store) Load(ctx context.Context) ([]registry.Entry, int64, error) {
	resp, err := s.c.Get(ctx, s.prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, unavailable(err)
	}
	out := make([]registry.Entry, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, registry.Entry{Name: strings.TrimPrefix(string(kv.Key), s.prefix), Value: kv.Value, Version: kv.ModRevision})
	}
	return out, resp.Header.Revision, nil
}

// Put implements registry.Store: unconditional, a plain put; conditional, a transaction
// comparing the key's mod revision.
func (s *Store) Put(ctx context.Context, name string, value []byte, ifVersion int64) (int64, error) {
	key := s.prefix + name
	if ifVersion == 0 {
		resp, err := s.c.Put(ctx, key, string(value))
		if err != nil {
			return 0, s.writeErr(err)
		}
		return resp.Header.Revision, nil
	}
	resp, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", ifVersion)).
		Then(clientv3.OpPut(key, string(value))).Else(clientv3.OpGet(key, clientv3.WithKeysOnly())).Commit()
	if err != nil {
		return 0, s.writeErr(err)
	}
	if !resp.Succeeded {
		return 0, conflict(name, ifVersion, resp)
	}
	return resp.Header.Revision, nil
}

// Delete implements registry.Store.
func (s *Store) Delete(ctx context.Context, name string, ifVersion int64) (int64, error) {
	key := s.prefix + name
	if ifVersion == 0 {
		resp, err := s.c.Delete(ctx, key)
		if err != nil {
			return 0, s.writeErr(err)
		}
		if resp.Deleted == 0 {
			return 0, fmt.Errorf("%w: %q", registry.ErrNotFound, name)
		}
		return resp.Header.Revision, nil
	}
	resp, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", ifVersion)).
		Then(clientv3.OpDelete(key)).Else(clientv3.OpGet(key, clientv3.WithKeysOnly())).Commit()
	if err != nil {
		return 0, s.writeErr(err)
	}
	if !resp.Succeeded {
		if len(resp.Responses) == 1 && len(resp.Responses[0].GetResponseRange().Kvs) == 0 {
			return 0, fmt.Errorf("%w: %q", registry.ErrNotFound, name)
		}
		return 0, conflict(name, ifVersion, resp)
	}
	return resp.Header.Revision, nil
}

func conflict(name string, ifVersion int64, resp *clientv3.TxnResponse) error {
	cur := int64(0)
	if len(resp.Responses) == 1 {
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) == 1 {
			cur = kvs[0].ModRevision
		}
	}
	return fmt.Errorf("%w: %q is at etag %q, not %q", registry.ErrConflict, name, registry.ETag(cur), registry.ETag(ifVersion))
}

// writeErr: a write etcd refuses for its size is the caller's (the router's own limits keep
// it below etcd's default 1.5 MiB, but an etcd can be set lower); the rest is unavailability.
func (s *Store) writeErr(err error) error {
	if errors.Is(err, rpctypes.ErrRequestTooLarge) || errors.Is(err, rpctypes.ErrGRPCRequestTooLarge) {
		return registry.Invalid("tools", "larger than the toolset store takes (etcd --max-request-bytes)")
	}
	return unavailable(err)
}

// Watch implements registry.SharedStore: an etcd watch on the prefix from after+1, and a
// linearizable read every ProbeInterval, since a watch whose server has gone just waits.
func (s *Store) Watch(ctx context.Context, after int64, apply func(rev int64, changes []registry.Change)) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := s.c.Watch(wctx, s.prefix, clientv3.WithPrefix(), clientv3.WithRev(after+1))
	tick := time.NewTicker(s.cfg.ProbeInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			pctx, pcancel := context.WithTimeout(ctx, s.cfg.ProbeTimeout)
			resp, err := s.c.Get(pctx, s.cfg.Prefix+"probe", clientv3.WithCountOnly())
			pcancel()
			if err != nil && ctx.Err() == nil {
				return unavailable(fmt.Errorf("probe: %w", err))
			}
			if err == nil && resp.Header.Revision < after {
				// Restored from a backup or replaced: a watch from our revision would wait
				// for revisions it may never reach. The registry lists it again.
				return fmt.Errorf("%w: etcd is at revision %d, behind %d", registry.ErrCompacted, resp.Header.Revision, after)
			}
		case resp, ok := <-wch:
			if !ok {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return unavailable(errors.New("watch closed"))
			}
			if resp.CompactRevision != 0 {
				return fmt.Errorf("%w: resume at %d, compacted through %d", registry.ErrCompacted, after+1, resp.CompactRevision)
			}
			if err := resp.Err(); err != nil {
				return unavailable(err)
			}
			if len(resp.Events) == 0 {
				continue // progress notification
			}
			changes := make([]registry.Change, 0, len(resp.Events))
			for _, ev := range resp.Events {
				c := registry.Change{Name: strings.TrimPrefix(string(ev.Kv.Key), s.prefix), Version: ev.Kv.ModRevision}
				if ev.Type == mvccpb.PUT {
					c.Value = ev.Kv.Value
				}
				changes = append(changes, c)
			}
			// The events' own last revision, not the header's: the header may already count
			// changes whose events come in the next response.
			after = changes[len(changes)-1].Version
			apply(after, changes)
		}
	}
}

// Close implements registry.Store.
func (s *Store) Close() error { return s.c.Close() }
