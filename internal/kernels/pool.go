package kernels

import (
	"os"
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

// Threads returns the number of threads kernels use: NEEDLE_THREADS, else GOMAXPROCS.
func Threads() int {
	poolOnce.Do(startPool)
	return poolN
}

func startPool() {
	poolN = runtime.GOMAXPROCS(0)
	if s := os.Getenv("NEEDLE_THREADS"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			poolN = v
		}
	}
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
