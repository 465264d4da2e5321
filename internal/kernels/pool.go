package kernels

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
)

// The worker pool: persistent goroutines that take slices of a range, so a kernel call costs a
// channel send per worker rather than a goroutine per operation.

// runner is a unit of parallel work; kernels pass pooled job structs (pointer-shaped, so no
// allocation per call) rather than closures. slot < Threads() numbers the chunk, so a job
// can give each chunk its own scratch.
type runner interface{ run(slot, lo, hi int) }

type funcRunner func(lo, hi int)

func (f funcRunner) run(_, lo, hi int) { f(lo, hi) }

type task struct {
	r            runner
	slot, lo, hi int
	wg           *sync.WaitGroup
}

var (
	poolOnce sync.Once
	poolN    int
	poolCh   chan task
	wgPool   = sync.Pool{New: func() any { return new(sync.WaitGroup) }}
)

// Threads returns the number of threads kernels use: Settings.Threads, else GOMAXPROCS.
func Threads() int {
	poolOnce.Do(startPool)
	return poolN
}

// parseThreads reads NEEDLE_THREADS (env; "" means unset): the worker count and, when env was
// not followed as given, why. Unset or invalid: gomaxprocs. More workers than 4 per CPU only
// add contention (each is a goroutine with scratch), and a typo like 100000 must not take the
// process down, so it is capped.
func parseThreads(env string, gomaxprocs, ncpu int) (int, string) {
	if env == "" {
		return gomaxprocs, ""
	}
	hi := 4 * ncpu
	v, err := strconv.Atoi(env)
	switch {
	case err != nil || v < 1:
		return gomaxprocs, fmt.Sprintf("NEEDLE_THREADS=%q ignored: want a whole number from 1 to %d", env, hi)
	case v > hi:
		return hi, fmt.Sprintf("NEEDLE_THREADS=%d capped at %d (4 per CPU)", v, hi)
	}
	return v, ""
}

// threadsNote says why NEEDLE_THREADS was not followed as given, if it was not;
// threadsWant is the configured text ("" for GOMAXPROCS).
var threadsNote, threadsWant string

// configureThreads sets the pool size for when it starts; once started, it keeps its size.
func configureThreads(s Settings) {
	want := ""
	if s.Threads != 0 {
		want = strconv.Itoa(s.Threads)
	}
	started := true
	poolOnce.Do(func() { started = false })
	if !started {
		poolOnce = sync.Once{}
		threadsWant = want
		return
	}
	if n, _ := parseThreads(want, runtime.GOMAXPROCS(0), runtime.NumCPU()); n != poolN {
		threadsNote = fmt.Sprintf("threads %d not applied: the kernel pool already runs %d", n, poolN)
	}
}

func startPool() {
	poolN, threadsNote = parseThreads(threadsWant, runtime.GOMAXPROCS(0), runtime.NumCPU())
	poolCh = make(chan task, poolN)
	for i := 1; i < poolN; i++ {
		go func() {
			for t := range poolCh {
				t.r.run(t.slot, t.lo, t.hi)
				t.wg.Done()
			}
		}()
	}
}

// Parallel splits [0, n) into Threads() contiguous chunks and runs fn on each, the calling
// goroutine taking the first. It returns when all chunks are done.
func Parallel(n int, fn func(lo, hi int)) { parallelRun(n, funcRunner(fn)) }

func parallelRun(n int, r runner) {
	t := Threads()
	if t <= 1 || n < 2 {
		r.run(0, 0, n)
		return
	}
	if t > n {
		t = n
	}
	wg := wgPool.Get().(*sync.WaitGroup)
	chunk := (n + t - 1) / t
	for w := 1; w < t; w++ {
		lo := w * chunk
		if lo >= n {
			break
		}
		wg.Add(1)
		poolCh <- task{r: r, slot: w, lo: lo, hi: min(lo+chunk, n), wg: wg}
	}
	r.run(0, 0, min(chunk, n))
	wg.Wait()
	wgPool.Put(wg)
}
