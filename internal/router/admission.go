package router

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// ErrOverloaded: the router is at its worker and queue limits, or the caller's deadline
// would pass before a worker frees up. It is always an *OverloadError.
var ErrOverloaded = errors.New("router: overloaded")

// OverloadError is ErrOverloaded with a suggested wait before retrying.
type OverloadError struct{ RetryAfter time.Duration }

func (e *OverloadError) Error() string {
	return "router: overloaded, retry after " + e.RetryAfter.String()
}
func (e *OverloadError) Unwrap() error { return ErrOverloaded }

// admission bounds the requests using the local model: workers run at once, up to queue
// more wait, and the rest are refused at once. Each worker holds one model scratch at a
// time, so memory is bounded by workers, not by callers.
type admission struct {
	slots   chan struct{}
	queue   int64
	waiting atomic.Int64
	svcNs   atomic.Int64 // moving average of time holding a worker
	now     func() time.Time
	obs     Observer
}

func newAdmission(workers, queue int, now func() time.Time, obs Observer) *admission {
	a := &admission{slots: make(chan struct{}, workers), queue: int64(queue), now: now, obs: obs}
	a.svcNs.Store(int64(20 * time.Millisecond))
	return a
}

// estimate is the expected wait of the n-th waiter.
func (a *admission) estimate(n int64) time.Duration {
	w := int64(cap(a.slots))
	return time.Duration((n + w - 1) / w * a.svcNs.Load())
}

// acquire takes a worker, waiting in the queue if there is room and the deadline allows.
// The returned release must be called once.
func (a *admission) acquire(ctx context.Context) (func(), error) {
	select {
	case a.slots <- struct{}{}:
		return a.releaser(), nil
	default:
	}
	n := a.waiting.Add(1)
	a.obs.QueueDepth(int(n))
	defer func() { a.obs.QueueDepth(int(a.waiting.Add(-1))) }()
	wait := a.estimate(n)
	if n > a.queue {
		a.obs.Shed()
		return nil, &OverloadError{RetryAfter: wait}
	}
	if dl, ok := ctx.Deadline(); ok && a.now().Add(wait).After(dl) {
		a.obs.Shed()
		return nil, &OverloadError{RetryAfter: wait}
	}
	select {
	case a.slots <- struct{}{}:
		return a.releaser(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (a *admission) releaser() func() {
	t0 := a.now()
	return func() {
		d := int64(a.now().Sub(t0))
		old := a.svcNs.Load()
		a.svcNs.Store(old + (d-old)/8) // a racy average is fine for an estimate
		<-a.slots
	}
}
