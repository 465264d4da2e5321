package eval

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/needle-router/needle/internal/lexical"
	"github.com/needle-router/needle/internal/toolspec"
)

// Retrieval is recall of the called tool among a catalogue, by the contrastive head.
type Retrieval struct {
	Catalogue int     `json:"catalogue"`
	Queries   int     `json:"queries"`
	Recall1   float64 `json:"recall_at_1"`
	Recall5   float64 `json:"recall_at_5"`
	MRR       float64 `json:"mrr"`
	// Hybrid retrieval (the router's): the contrastive head's cosine plus LexicalWeight
	// times BM25 divided by max(top score, 4) (internal/lexical). The fields above are the head alone.
	LexicalWeight float64 `json:"lexical_weight"`
	HybridRecall1 float64 `json:"hybrid_recall_at_1"`
	HybridRecall5 float64 `json:"hybrid_recall_at_5"`
	HybridMRR     float64 `json:"hybrid_mrr"`
	// Sweep is hybrid recall at other weights (ScoreRetrieval's sweep), for choosing one.
	Sweep []HybridPoint `json:"sweep,omitempty"`
}

// HybridPoint is hybrid recall at one BM25 weight.
type HybridPoint struct {
	LexicalWeight float64 `json:"lexical_weight"`
	Recall1       float64 `json:"recall_at_1"`
	Recall5       float64 `json:"recall_at_5"`
	MRR           float64 `json:"mrr"`
}

// Embedder embeds a query or a tool's JSON into the retrieval space (*needle.Model).
type Embedder interface {
	Embed(ctx context.Context, text string) ([]float32, error)
}

// Doc is one catalogue entry: a tool's name, the text that is embedded for it and the text
// lexical retrieval matches (lexical.ToolText).
type Doc struct{ Name, Text, Words string }

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

// ScoreRetrieval embeds every doc and query with m and ranks each query's wanted tool among
// all docs by dot product (the contrastive head), and by hybrid score at lexicalWeight and
// at each weight of sweep. Queries whose tool is not in docs are skipped.
func ScoreRetrieval(ctx context.Context, m Embedder, docs []Doc, queries []RetrievalQuery, lexicalWeight float64, sweep ...float64) (*Retrieval, error) {
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
	words := make([]string, len(docs))
	for i, d := range docs {
		words[i] = d.Words
	}
	ix := lexical.IndexTexts(words)
	var ranks, hranks []int
	sranks := make([][]int, len(sweep))
	scores := make([]float32, len(docs))
	var sparse, fused []float32
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
		sparse = ix.Scores(q.Text, sparse)
		for j, w := range sweep {
			fused = lexical.Fuse(append(fused[:0], scores...), sparse, float32(w))
			sranks[j] = append(sranks[j], Rank(fused, ti))
		}
		hranks = append(hranks, Rank(lexical.Fuse(scores, sparse, float32(lexicalWeight)), ti))
	}
	return &Retrieval{Catalogue: len(docs), Queries: len(ranks), Recall1: RecallAt(ranks, 1),
		Recall5: RecallAt(ranks, 5), MRR: MeanReciprocalRank(ranks), LexicalWeight: lexicalWeight,
		HybridRecall1: RecallAt(hranks, 1), HybridRecall5: RecallAt(hranks, 5), HybridMRR: MeanReciprocalRank(hranks),
		Sweep: sweepPoints(sweep, sranks)}, nil
}

func sweepPoints(weights []float64, ranks [][]int) []HybridPoint {
	var out []HybridPoint
	for j, w := range weights {
		out = append(out, HybridPoint{LexicalWeight: w, Recall1: RecallAt(ranks[j], 1), Recall5: RecallAt(ranks[j], 5), MRR: MeanReciprocalRank(ranks[j])})
	}
	return out
}

func dot(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// Catalogue collects the tools that rows offered, for retrieval: one tool per key (its name,
// or what it does, so one function under several names counts once); the first tool added
// under a key wins.
type Catalogue struct{ byKey map[string]toolspec.Tool }

// NewCatalogue returns an empty catalogue.
func NewCatalogue() *Catalogue { return &Catalogue{byKey: map[string]toolspec.Tool{}} }

// Add adds tools[i] under keys[i] where the key is new; keys shorter than tools leave the
// rest out.
func (c *Catalogue) Add(keys []string, tools []toolspec.Tool) {
	for i := range min(len(keys), len(tools)) {
		if _, ok := c.byKey[keys[i]]; !ok {
			c.byKey[keys[i]] = tools[i]
		}
	}
}

// Len is the number of distinct keys.
func (c *Catalogue) Len() int { return len(c.byKey) }

// Docs lists the catalogue sorted by key: each tool embedded as its compact JSON and matched
// lexically by lexical.ToolText.
func (c *Catalogue) Docs() []Doc {
	docs := make([]Doc, 0, len(c.byKey))
	for key, t := range c.byKey {
		docs = append(docs, Doc{Name: key, Text: string(t.AppendJSON(nil)), Words: lexical.ToolText(&t)})
	}
	slices.SortFunc(docs, func(a, b Doc) int { return strings.Compare(a.Name, b.Name) })
	return docs
}

// KeyOf is the key of the tool called name among tools (keys[i] for tools[i]); "" when none.
func KeyOf(keys []string, tools []toolspec.Tool, name string) string {
	for i := range min(len(keys), len(tools)) {
		if tools[i].Name == name {
			return keys[i]
		}
	}
	return ""
}
