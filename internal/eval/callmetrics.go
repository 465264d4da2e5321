package eval

// CallStats are the per-item counts behind tool accuracy and argument precision/recall,
// the metrics intent/slot benchmarks report next to exact match (BFCL's AST rules).
type CallStats struct {
	// ToolOK: the first call names the first wanted tool, or no call was made and none was
	// wanted.
	ToolOK bool `json:"tool_ok"`
	// NoCall: the model made no call.
	NoCall bool `json:"no_call"`
	// Arguments, counted over the first call when its tool is right (a wrong tool's
	// arguments are all wrong): gold arguments, predicted ones, predicted ones whose value
	// the checker accepts, predicted ones for a parameter the gold answer leaves out.
	Gold, Pred, Matched, Invented int
	// WantsNone: the first wanted call has no arguments (the invented-argument
	// denominator: right-tool items whose gold call takes none).
	GoldArgless bool `json:"gold_argless"`
	// Cut: retrieval kept fewer tools than were offered, and a call was wanted; GoldKept:
	// the first wanted tool was among those kept (recall@k's numerator).
	Cut      bool `json:"cut,omitempty"`
	GoldKept bool `json:"gold_kept,omitempty"`
}

// Stats compares calls with the wanted answers. On a wrong tool, Gold still counts the
// wanted arguments (they were missed) and Pred counts the predicted ones (all wrong).
func Stats(funcs []Func, calls []Call, answers []Answer) CallStats {
	var s CallStats
	s.NoCall = len(calls) == 0
	if len(answers) == 0 {
		s.ToolOK = len(calls) == 0
		if len(calls) > 0 {
			s.Pred = len(calls[0].Args)
		}
		return s
	}
	a := answers[0]
	s.Gold = len(a.Params)
	s.GoldArgless = len(a.Params) == 0
	if len(calls) == 0 {
		return s
	}
	c := calls[0]
	s.Pred = len(c.Args)
	if c.Name != a.Name {
		return s
	}
	s.ToolOK = true
	for k, v := range c.Args {
		accept, ok := a.Params[k]
		if !ok {
			s.Invented++
			continue
		}
		if checkValue(k, v, accept).OK {
			s.Matched++
		}
	}
	return s
}

// CallScore aggregates CallStats over a category.
type CallScore struct {
	ToolAccuracy float64 `json:"tool_accuracy"`
	NoCallRate   float64 `json:"no_call_rate"`
	ArgPrecision float64 `json:"arg_precision"`
	ArgRecall    float64 `json:"arg_recall"`
	ArgF1        float64 `json:"arg_f1"`
	// InventedRate: of right-tool items whose wanted call has no arguments, the share given
	// some argument anyway.
	InventedRate float64 `json:"invented_rate"`
	// InventedAnyRate: of right-tool items, the share with an argument the answer leaves out.
	InventedAnyRate float64 `json:"invented_any_rate"`
	// At the threshold: Coverage is the share of items whose confidence reaches it,
	// Precision the share of those that pass.
	Threshold float64 `json:"threshold"`
	Coverage  float64 `json:"coverage"`
	Precision float64 `json:"precision"`
	// RecallAtK: of items that want a call and whose offered tools retrieval cut to its
	// top-k, the share whose wanted tool was kept; Cut counts those items (0: retrieval
	// never cut, RecallAtK is not defined).
	RecallAtK float64 `json:"recall_at_k"`
	Cut       int     `json:"cut"`
}

func scoreCalls(items []Item, threshold float64) CallScore {
	var cs CallScore
	var n, tool, nocall, gold, pred, match, argless, argInv, right, anyInv, covered, coveredOK, kept int
	for _, it := range items {
		n++
		s := it.Stats
		if s.Cut {
			cs.Cut++
			if s.GoldKept {
				kept++
			}
		}
		if s.ToolOK {
			tool++
			right++
			if s.Invented > 0 {
				anyInv++
			}
			if s.GoldArgless {
				argless++
				if s.Pred > 0 {
					argInv++
				}
			}
		}
		if s.NoCall {
			nocall++
		}
		gold, pred, match = gold+s.Gold, pred+s.Pred, match+s.Matched
		if it.Verdict != Errored && it.Confidence >= threshold && threshold > 0 {
			covered++
			if it.Verdict == Pass {
				coveredOK++
			}
		}
	}
	div := func(a, b int) float64 {
		if b == 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	cs.ToolAccuracy, cs.NoCallRate = div(tool, n), div(nocall, n)
	cs.ArgPrecision, cs.ArgRecall = div(match, pred), div(match, gold)
	if cs.ArgPrecision+cs.ArgRecall > 0 {
		cs.ArgF1 = 2 * cs.ArgPrecision * cs.ArgRecall / (cs.ArgPrecision + cs.ArgRecall)
	}
	cs.InventedRate, cs.InventedAnyRate = div(argInv, argless), div(anyInv, right)
	cs.Threshold, cs.Coverage, cs.Precision = threshold, div(covered, n), div(coveredOK, covered)
	cs.RecallAtK = div(kept, cs.Cut)
	return cs
}
