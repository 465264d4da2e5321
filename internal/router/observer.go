package router

import "time"

// Observer receives what the pipeline measures; the transport edge implements it with
// Prometheus (internal/api), so this package links no metrics library.
type Observer interface {
	// Routed is called for every answered request.
	Routed(o *Output)
	// Escalation is called for every cloud call the pipeline makes or skips: cause is
	// CauseNone when the cloud answered.
	Escalation(reason Reason, cause FallbackCause)
	// ModelRun is called after every local model run.
	ModelRun(r ModelStats)
	// QueueDepth reports the number of requests waiting for a worker.
	QueueDepth(n int)
	// Shed is called for every request refused by admission control.
	Shed()
}

// NopObserver ignores everything.
type NopObserver struct{}

func (NopObserver) Routed(*Output)                   {}
func (NopObserver) Escalation(Reason, FallbackCause) {}
func (NopObserver) ModelRun(ModelStats)              {}
func (NopObserver) QueueDepth(int)                   {}
func (NopObserver) Shed()                            {}

// ModelStats is what one local model run measured: tokens in and out, and the time of the
// encoder over the prompt (prefill) and of the decode steps.
type ModelStats struct {
	PromptTokens, OutputTokens int
	Prefill, Decode            time.Duration
}
