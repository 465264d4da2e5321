package eval

import (
	"context"
	"fmt"
)

// Retrieval is recall of the called tool among a catalogue, by the contrastive head.
type Retrieval struct {
	Catalogue int     `json:"catalogue"`
	Queries   int     `json:"queries"`
	Recall1   float64 `json:"recall_at_1"`
	Recall5   float64 `json:"recall_at_5"`
	MRR       float64 `json:"mrr"`
}

// Embedder embeds a query or a tool's JSON into the retrieval space (*needle.Model).
type Embedder interface {
	Embed(ctx context.Context, text string) ([]float32, error)
}

// Doc is one catalogue entry: a tool's name and the text that is embedded for it.
type Doc struct{ Name, Text string }

// RetrievalQuery is a request and the tool it should retrieve.
type RetrievalQuery struct{ Text, Want string }

// Rank is the 1-based rank of scores[target]: one plus the number of strictly higher
// scores, so a tie goes to the target.
func Rank(scores []float32, target int) int {
	r := 1
	for i, s := range scores {
		if i != target && s > scores[target] {
			r++
		}
	}
	return r
}

// RecallAt is the fraction of ranks at most k (0 for no ranks).
func RecallAt(ranks []int, k int) float64 {
	if len(ranks) == 0 {
		return 0
	}
	n := 0
	for _, r := range ranks {
		if r <= k {
			n++
		}
	}
	return float64(n) / float64(len(ranks))
}

// MeanReciprocalRank is the mean of 1/rank (0 for no ranks).
func MeanReciprocalRank(ranks []int) float64 {
	if len(ranks) == 0 {
		return 0
	}
	s := 0.0
	for _, r := range ranks {
		s += 1 / float64(r)
	}
	return s / float64(len(ranks))
}

// ScoreRetrieval embeds every doc and query with m and ranks each query's wanted tool by dot
// product among all docs. Queries whose tool is not in docs are skipped.
func ScoreRetrieval(ctx context.Context, m Embedder, docs []Doc, queries []RetrievalQuery) (*Retrieval, error) {
	embs := make([][]float32, len(docs))
	index := make(map[string]int, len(docs))
	for i, d := range docs {
		e, err := m.Embed(ctx, d.Text)
		if err != nil {
			return nil, fmt.Errorf("embed tool %s: %w", d.Name, err)
		}
		embs[i] = e
		index[d.Name] = i
	}
	var ranks []int
	scores := make([]float32, len(docs))
	for _, q := range queries {
		ti, ok := index[q.Want]
		if !ok {
			continue
		}
		qe, err := m.Embed(ctx, q.Text)
		if err != nil {
			return nil, fmt.Errorf("embed query: %w", err)
		}
		for i := range embs {
			scores[i] = dot(qe, embs[i])
		}
		ranks = append(ranks, Rank(scores, ti))
	}
	return &Retrieval{Catalogue: len(docs), Queries: len(ranks), Recall1: RecallAt(ranks, 1),
		Recall5: RecallAt(ranks, 5), MRR: MeanReciprocalRank(ranks)}, nil
}

func dot(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
